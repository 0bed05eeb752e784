// UEFI variables through efivarfs (Documentation/filesystems/efivarfs.rst): a file per variable named
// <Name>-<vendor GUID>, whose bytes are 4 bytes of attributes then the data. A write must be one write()
// of attributes + data. efivarfs marks most variables immutable (all but the UEFI-defined ones it knows
// how to validate) so that `rm -rf` cannot brick a machine: `chattr -i` (e2fsprogs; Node cannot issue
// FS_IOC_SETFLAGS) comes first. Every write is read back and compared.
import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BootwrightError, codeOf, type FailureContext } from "../../protocol/failure.js";
import { exists } from "../inventory/sysfs.js";
import type { Exec } from "./plugin.js";
import { TOOLS } from "./tools.js";

export const EFIVARS_DIR = "sys/firmware/efi/efivars";
/** EFI_GLOBAL_VARIABLE (UEFI spec §3.3): BootOrder, Boot####, BootNext, BootCurrent, SecureBoot. */
export const GLOBAL_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/** Our own vendor GUID: plan.uefi.variables are stored under it. */
export const BOOTWRIGHT_GUID = "0f856586-79f8-44e0-9512-8ff4512307cb";

export class EfiVarError extends BootwrightError<"efivar_write"> {
  constructor(message: string, context: FailureContext<"efivar_write"> = {}, options?: ErrorOptions) {
    super("efivar_write", message, context, options);
  }
}

export function efivarPath(root: string, name: string, guid: string): string {
  return join(root, EFIVARS_DIR, `${name}-${guid}`);
}

/** Mounts efivarfs if /init did not (it needs the efivarfs module on Debian's kernel). */
export async function ensureEfivarfs(root: string, exec: Exec, signal: AbortSignal): Promise<void> {
  if (!(await exists(join(root, "sys/firmware/efi"))))
    throw new EfiVarError("this machine did not boot through UEFI (no /sys/firmware/efi)");
  const mounts = await readFile(join(root, "proc/mounts"), "utf8").catch(() => "");
  const dir = join(root, EFIVARS_DIR);
  if (mounts.split("\n").some((line) => line.split(" ")[1] === dir && line.split(" ")[2] === "efivarfs"))
    return;
  await exec("modprobe", ["-q", "efivarfs"], { timeoutMs: 30_000, signal }).catch(() => undefined);
  await exec("mount", ["-t", "efivarfs", "efivarfs", dir], { timeoutMs: 30_000, signal });
}

/** The variable's file (attributes + data), or undefined when it does not exist. */
export async function readEfivar(root: string, name: string, guid: string): Promise<Buffer | undefined> {
  try {
    return await readFile(efivarPath(root, name, guid));
  } catch (err) {
    if (codeOf(err) === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Writes `file` (attributes + data) as the variable, unless it already holds exactly that; then reads
 * it back. Returns whether it wrote.
 */
export async function writeEfivar(
  root: string,
  name: string,
  guid: string,
  file: Buffer,
  exec: Exec,
  signal: AbortSignal,
): Promise<boolean> {
  const path = efivarPath(root, name, guid);
  const variable = `${name}-${guid}`;
  const before = await readEfivar(root, name, guid);
  if (before?.equals(file)) return false;
  if (before) await exec(TOOLS.chattr.path, ["-i", path], { timeoutMs: 10_000, signal });
  // No O_TRUNC (efivarfs has no truncate); the new contents replace the variable in one write().
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    const { bytesWritten } = await handle.write(file, 0, file.length, null);
    if (bytesWritten !== file.length)
      throw new EfiVarError(`${name}: short write to efivarfs (${bytesWritten} of ${file.length} bytes)`, {
        variable,
      });
  } catch (err) {
    throw new EfiVarError(
      `writing UEFI variable ${variable} failed: ${err instanceof Error ? err.message : String(err)}`,
      { variable },
      { cause: err },
    );
  } finally {
    await handle.close();
  }
  const after = await readEfivar(root, name, guid);
  if (!after?.equals(file))
    throw new EfiVarError(
      `UEFI variable ${variable} reads back as ${after?.toString("hex") ?? "nothing"}, wrote ${file.toString("hex")}`,
      { variable },
    );
  return true;
}
