"""The PBX: media loop, channels and calls, dial plan, apps, storage, service main."""
