"""Hardware: FXS/FXO chips, GPIO, PCM audio, voice modems, and the simulated board."""
