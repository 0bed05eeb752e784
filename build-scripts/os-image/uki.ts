// Builds a unified kernel image (UKI): systemd's EFI stub with the kernel, initrd, command line and
// os-release added as PE sections, so UEFI firmware boots it as \EFI\BOOT\BOOTX64.EFI with no loader.
import { existsSync, writeFileSync } from "node:fs";
import { statSync } from "node:fs";
import { parseObjdumpSections, ukiSectionVmas } from "./layout.js";
import { run, runText } from "./run.js";

/** From the systemd-boot-efi package. */
export const EFI_STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

export interface UkiInputs {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** os-release text shown by boot menus; the stub needs none, but it names the image. */
  osRelease: string;
  /** Where to write the .efi; `${out}.osrel` and `${out}.cmdline` are scratch files beside it. */
  out: string;
}

export async function buildUki(inputs: UkiInputs): Promise<void> {
  if (!existsSync(EFI_STUB)) throw new Error(`${EFI_STUB} is missing: install systemd-boot-efi`);
  const osrel = `${inputs.out}.osrel`;
  const cmdline = `${inputs.out}.cmdline`;
  writeFileSync(osrel, inputs.osRelease);
  // The stub passes .cmdline as is; a trailing NUL keeps firmware that reads C strings honest.
  writeFileSync(cmdline, `${inputs.cmdline}\0`);
  const added = [
    { name: ".osrel", file: osrel },
    { name: ".cmdline", file: cmdline },
    { name: ".linux", file: inputs.kernel },
    { name: ".initrd", file: inputs.initrd },
  ].map((s) => ({ ...s, size: statSync(s.file).size }));
  const stub = parseObjdumpSections(await runText("objdump", ["-h", EFI_STUB]));
  const vmas = ukiSectionVmas(stub, added);
  const argv: string[] = [];
  added.forEach((section, i) => {
    argv.push(
      "--add-section",
      `${section.name}=${section.file}`,
      "--change-section-vma",
      `${section.name}=0x${(vmas[i]?.vma ?? 0).toString(16)}`,
    );
  });
  await run("objcopy", [...argv, EFI_STUB, inputs.out]);
}
