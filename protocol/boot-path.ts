// How a machine reached the loader, as the step log and the boot list show it (issue 16). The loader
// reads it from its kernel command line (bootwright.path=), which whoever started it wrote there.
import * as z from "zod";

export const BootPath = z.enum([
  "ipxe", // iPXE from the NIC's option ROM asked for /boot.ipxe
  "pxe-bios", // BIOS PXE → TFTP undionly.kpxe → iPXE → /boot.ipxe
  "pxe-uefi", // UEFI PXE → TFTP ipxe.efi or snponly.efi → iPXE → /boot.ipxe
  "uefi-http", // UEFI HTTP boot of our unified kernel image (no iPXE, no TFTP)
  "secure-boot", // UEFI PXE → TFTP shim → signed GRUB (grub.cfg-01-<mac>) → Debian's signed kernel
  "media", // bootwright rescue media (ISO as a CD or written to a USB stick): isolinux or shim → signed GRUB
]);
export type BootPath = z.infer<typeof BootPath>;
