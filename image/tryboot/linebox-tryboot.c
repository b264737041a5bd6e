// SPDX-License-Identifier: GPL-2.0
/*
 * linebox-tryboot: makes `reboot "0 tryboot"` reach the Raspberry Pi firmware under Debian's kernel.
 *
 * The Pi 4/5 firmware boots autoboot.txt's [tryboot] section once when the kernel sets the
 * "tryboot" reboot flag through the firmware mailbox (property tag SET_REBOOT_FLAGS, 0x00038064)
 * just before it restarts. Raspberry Pi's own kernels do that in their firmware driver; the
 * mainline driver in Debian's kernel has no such call, so without this module an update would
 * restart into the old slot. This module adds only that: a reboot notifier which, when the restart
 * command contains "tryboot", sets flag bit 0. It loads only where the firmware answers
 * GET_REBOOT_FLAGS (0x00030064), so its presence in /sys/module means tryboot works
 * (firmware/update/slots.py reads that before an install).
 */
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/mod_devicetable.h>
#include <linux/of.h>
#include <linux/reboot.h>
#include <linux/string.h>
#include <soc/bcm2835/raspberrypi-firmware.h>

#define LINEBOX_GET_REBOOT_FLAGS 0x00030064
#define LINEBOX_SET_REBOOT_FLAGS 0x00038064
#define LINEBOX_REBOOT_FLAG_TRYBOOT 0x1

static struct rpi_firmware *linebox_fw;

static int linebox_tryboot_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	const char *cmd = data;
	u32 flags = LINEBOX_REBOOT_FLAG_TRYBOOT;

	if (action != SYS_RESTART || !cmd || !strstr(cmd, "tryboot"))
		return NOTIFY_DONE;
	if (rpi_firmware_property(linebox_fw, LINEBOX_SET_REBOOT_FLAGS, &flags, sizeof(flags)))
		pr_err("linebox-tryboot: the firmware refused the tryboot flag: the current slot starts again\n");
	else
		pr_info("linebox-tryboot: tryboot flag set for this restart\n");
	return NOTIFY_DONE;
}

/* loaded by udev where the firmware's device-tree node exists (every Pi; never qemu's virt board) */
static const struct of_device_id linebox_tryboot_of_match[] = {
	{ .compatible = "raspberrypi,bcm2835-firmware" },
	{ }
};
MODULE_DEVICE_TABLE(of, linebox_tryboot_of_match);

static struct notifier_block linebox_tryboot_nb = {
	.notifier_call = linebox_tryboot_notify,
};

static int __init linebox_tryboot_init(void)
{
	struct device_node *np;
	u32 flags = 0;
	int err;

	np = of_find_matching_node(NULL, linebox_tryboot_of_match);
	if (!np)
		return -ENODEV;                 /* not a Raspberry Pi (qemu's virt board, a PC) */
	linebox_fw = rpi_firmware_get(np);
	of_node_put(np);
	if (!linebox_fw)
		return -EPROBE_DEFER;
	err = rpi_firmware_property(linebox_fw, LINEBOX_GET_REBOOT_FLAGS, &flags, sizeof(flags));
	if (err) {
		pr_warn("linebox-tryboot: this firmware has no reboot flags (%d): tryboot unavailable\n", err);
		rpi_firmware_put(linebox_fw);
		return -ENODEV;
	}
	err = register_reboot_notifier(&linebox_tryboot_nb);
	if (err)
		rpi_firmware_put(linebox_fw);
	return err;
}

static void __exit linebox_tryboot_exit(void)
{
	unregister_reboot_notifier(&linebox_tryboot_nb);
	rpi_firmware_put(linebox_fw);
}

module_init(linebox_tryboot_init);
module_exit(linebox_tryboot_exit);
MODULE_DESCRIPTION("Linebox: pass reboot \"0 tryboot\" to the Raspberry Pi firmware");
MODULE_LICENSE("GPL");
