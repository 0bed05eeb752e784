// The loader as one unified kernel image (systemd's EFI stub + our kernel, initramfs and a command line
// naming this server), for UEFI HTTP boot: the firmware fetches one URL and runs it, no iPXE, no TFTP.
// Built with the OS images' builder (objcopy), once per kernel, initramfs and command line, and kept
// in the data directory under a name made of their hash.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildUki } from "../../build-scripts/os-image/uki.js";

export interface LoaderUkiInputs {
  kernel: string;
  initramfs: string;
  cmdline: string;
  /** Where built images are kept (<dataDir>/boot). */
  dir: string;
}

/** What names a build: the inputs' paths, sizes and times, and the command line. */
function inputsKey(inputs: LoaderUkiInputs): string {
  const hash = createHash("sha256").update(inputs.cmdline);
  for (const file of [inputs.kernel, inputs.initramfs]) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`\0${file}\0${size}\0${mtimeMs}`);
  }
  return hash.digest("hex").slice(0, 16);
}

/** The UKI for these inputs: built now (atomically: a temp name, then renamed) unless it already is. */
export async function loaderUki(inputs: LoaderUkiInputs): Promise<string> {
  mkdirSync(inputs.dir, { recursive: true });
  const path = join(inputs.dir, `loader-${inputsKey(inputs)}.efi`);
  if (existsSync(path)) return path;
  const temp = `${path}.tmp-${process.pid}`;
  try {
    await buildUki({
      kernel: inputs.kernel,
      initrd: inputs.initramfs,
      cmdline: inputs.cmdline,
      osRelease: 'NAME="bootwright loader"\nID=bootwright\n',
      out: temp,
    });
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
    rmSync(`${temp}.osrel`, { force: true });
    rmSync(`${temp}.cmdline`, { force: true });
  }
  return path;
}
