// Where the built artefacts the VM tests boot live (made by build-scripts/setup.sh).
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "..");
export const KERNEL_PATH = resolve(REPO_ROOT, "build/kernel/vmlinuz");
export const INITRAMFS_PATH = resolve(REPO_ROOT, "build/initramfs.img");
export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/** Secure Boot: the SMM build of OVMF and variables with Microsoft's keys enrolled (shim is signed by them). */
export const OVMF_CODE_SECURE = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd";
export const OVMF_VARS_MS = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/** Fails with the fix when the kernel or initramfs was not built. */
export function requireBootArtefacts(): void {
  for (const path of [KERNEL_PATH, INITRAMFS_PATH]) {
    if (!existsSync(path))
      throw new Error(`${path} is missing: run \`npm run setup\` (build-scripts/setup.sh) first`);
  }
}
