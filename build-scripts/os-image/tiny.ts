// The tiny OS: the Debian kernel the project already fetched (build/kernel) and a small busybox-static
// initrd with just the drivers a QEMU guest or a plain server needs to reach the network and its disk.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { moduleClosure, moduleName, parseModuleList } from "../../server/drivers/module-tree.js";
import { run, runText } from "./run.js";

export const BUSYBOX = "/bin/busybox";
const HERE = import.meta.dirname;
export const TINY_INIT = join(HERE, "tiny-init");
export const CALLHOME_SCRIPT = join(HERE, "callhome.sh");
/** Our initramfs's udhcpc hook: it configures the lease (udhcpc itself configures nothing). */
export const UDHCPC_SCRIPT = join(HERE, "../../initramfs/udhcpc.script");

/** virtio net/blk (QEMU), e1000 (QEMU's default NIC, older servers), af_packet for udhcpc's raw socket. */
export const TINY_MODULES = ["virtio_pci", "virtio_net", "virtio_blk", "e1000", "af_packet"];

export interface KernelTree {
  version: string;
  vmlinuz: string;
  /** lib/modules/<version> */
  modulesDir: string;
}

export function kernelTree(kernelRoot: string): KernelTree {
  const version = readFileSync(join(kernelRoot, "VERSION"), "utf8").trim();
  return {
    version,
    vmlinuz: join(kernelRoot, "vmlinuz"),
    modulesDir: join(kernelRoot, "lib/modules", version),
  };
}

/** The .ko files (relative to the modules dir) the tiny initrd carries, dependencies included. */
export function tinyModuleFiles(kernel: KernelTree): string[] {
  const builtin = new Set(
    parseModuleList(readFileSync(join(kernel.modulesDir, "modules.builtin"), "utf8")).map(moduleName),
  );
  return moduleClosure(readFileSync(join(kernel.modulesDir, "modules.dep"), "utf8"), TINY_MODULES, builtin);
}

function copyInto(staging: string, dest: string, src: string, mode: number): void {
  const target = join(staging, dest);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(src, target);
  chmodSync(target, mode);
}

/** Builds the tiny OS's initrd (newc cpio, zstd) at `out`, staging it in `${out}.root`. */
export async function buildTinyInitrd(kernel: KernelTree, out: string): Promise<void> {
  const staging = `${out}.root`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const dir of ["dev", "proc", "sys", "run", "tmp", "root", "bin", "sbin", "etc/bootwright"])
      mkdirSync(join(staging, dir), { recursive: true });
    copyInto(staging, "init", TINY_INIT, 0o755);
    copyInto(staging, "bin/busybox", BUSYBOX, 0o755);
    copyInto(staging, "sbin/bootwright-callhome", CALLHOME_SCRIPT, 0o755);
    copyInto(staging, "etc/bootwright/udhcpc.script", UDHCPC_SCRIPT, 0o755);
    for (const mod of tinyModuleFiles(kernel))
      copyInto(staging, join("lib/modules", kernel.version, mod), join(kernel.modulesDir, mod), 0o644);
    for (const file of ["modules.builtin", "modules.builtin.modinfo", "modules.order"])
      copyInto(staging, join("lib/modules", kernel.version, file), join(kernel.modulesDir, file), 0o644);
    // modules.dep/alias for just what we carry, so busybox modprobe resolves aliases and load order.
    await run("depmod", ["-b", staging, kernel.version]);

    // Sorted names, mtime 0, owner root: the same inputs give the same archive.
    await run("find", [staging, "-exec", "touch", "-h", "-d", "@0", "{}", "+"]);
    const names = (await runText("find", [".", "-mindepth", "1", "-print0"], { cwd: staging }))
      .split("\0")
      .filter(Boolean)
      .sort();
    const cpio = `${out}.cpio`;
    await run("cpio", ["--null", "--create", "--format=newc", "--reproducible", "--owner=0:0", "--quiet"], {
      cwd: staging,
      input: names.join("\0") + "\0",
      stdoutFile: cpio,
    });
    // The Debian kernel unpacks zstd initramfs (RD_ZSTD); -19 since it is small and built once.
    await run("zstd", ["-19", "-T0", "-q", "-f", "--rm", "-o", out, cpio]);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
