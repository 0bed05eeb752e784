// Drivers on demand (server side): resolves PCI modaliases to kernel modules through the complete module
// tree of the loader's kernel (build/kernel, unpacked by build-scripts/fetch-kernel.sh), adds their
// modules.dep dependencies and the firmware they ask for, and packs them into one content-addressed
// tar.zst, built once per kernel and module set and kept on disk (<dataDir>/drivers/<sha256>.tar.zst).
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { pack } from "tar-stream";
import { compress } from "zstd-napi";
import type { DriversAnswer, DriversRequest } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { moduleFirmware } from "./modinfo.js";
import { moduleName, parseModuleList, parseModulesDep } from "./module-tree.js";
import { modulesFor, parseModulesAlias, type ModuleAlias } from "./modules-alias.js";

export interface DriverLibraryPaths {
  /** Holds one <kernel release>/ folder per kernel, as /lib/modules does (build/kernel/lib/modules). */
  modulesDir: string;
  /** Debian's firmware packages unpacked (build/firmware/lib/firmware). */
  firmwareDir: string;
  /** Where bundles are kept, by sha256. */
  bundlesDir: string;
}

interface KernelTree {
  release: string;
  aliases: ModuleAlias[];
  /** Module path in the tree → its dependency paths. */
  deps: Map<string, string[]>;
  pathByName: Map<string, string>;
  builtin: Set<string>;
}

/** A bundle's sha256 is a file name: nothing else may reach the disk through the bundle route. */
export const BUNDLE_SHA256 = /^[0-9a-f]{64}$/;

export class DriverLibrary {
  private readonly trees = new Map<string, Promise<KernelTree>>();
  /** Answers by kernel + modalias set: a rack of identical machines asks the same question. */
  private readonly answers = new Map<string, Promise<DriversAnswer>>();

  constructor(private readonly paths: DriverLibraryPaths) {}

  /** The kernels whose module trees we can send from. */
  kernels(): string[] {
    return existsSync(this.paths.modulesDir) ? readdirSync(this.paths.modulesDir).sort() : [];
  }

  /**
   * Reads every kernel's module tree now, in the background: the first machine's drivers request then
   * costs only its own matching. A tree that fails to read is read again on the first request (and its
   * error is that request's).
   */
  warm(): void {
    for (const kernel of this.kernels()) this.tree(kernel).catch(() => undefined);
  }

  resolve(request: DriversRequest): Promise<DriversAnswer> {
    const modaliases = [...new Set(request.modaliases)].sort();
    const key = `${request.kernel}\n${modaliases.join("\n")}`;
    let answer = this.answers.get(key);
    if (!answer) {
      answer = this.build(request.kernel, modaliases);
      this.answers.set(key, answer);
      answer.catch(() => this.answers.delete(key)); // a failed build is tried again next time
    }
    return answer;
  }

  /** The bundle file for a sha256 this library wrote, or null. */
  bundleFile(sha256: string): string | null {
    if (!BUNDLE_SHA256.test(sha256)) return null;
    const file = join(this.paths.bundlesDir, `${sha256}.tar.zst`);
    return existsSync(file) ? file : null;
  }

  private async build(kernel: string, modaliases: string[]): Promise<DriversAnswer> {
    const tree = await this.tree(kernel);
    const devices = modaliases.map((modalias) => ({
      modalias,
      // Built-in drivers are there already: whatever claims the device and is not, we send.
      modules: modulesFor(tree.aliases, modalias).filter((name) => !tree.builtin.has(name)),
    }));
    const order = loadOrder(
      tree,
      devices.flatMap((device) => device.modules),
    );
    const firmwareAsked = new Set<string>();
    for (const path of order)
      for (const file of moduleFirmware(await readFile(join(this.treeDir(kernel), path))))
        firmwareAsked.add(file);
    const firmware = [...firmwareAsked]
      .filter((file) => existsSync(join(this.paths.firmwareDir, file)))
      .sort();
    const firmwareMissing = [...firmwareAsked].filter((file) => !firmware.includes(file)).sort();
    const modules = order.map((path) => ({ name: moduleName(path), path }));
    const bundle = order.length ? await this.writeBundle(kernel, order, firmware) : null;
    return { kernel, devices, modules, firmware, firmwareMissing, bundle };
  }

  private treeDir(kernel: string): string {
    return join(this.paths.modulesDir, kernel);
  }

  private tree(kernel: string): Promise<KernelTree> {
    let tree = this.trees.get(kernel);
    if (!tree) {
      tree = this.readTree(kernel);
      this.trees.set(kernel, tree);
      tree.catch(() => this.trees.delete(kernel));
    }
    return tree;
  }

  private async readTree(kernel: string): Promise<KernelTree> {
    const dir = this.treeDir(kernel);
    if (!existsSync(join(dir, "modules.dep")))
      throw new ApiError("kernel_unknown", `no module tree for kernel ${kernel}`, {
        kernel,
        known: this.kernels(),
      });
    const [alias, dep, builtin] = await Promise.all(
      ["modules.alias", "modules.dep", "modules.builtin"].map((file) => readFile(join(dir, file), "utf8")),
    );
    const deps = parseModulesDep(dep ?? "");
    return {
      release: kernel,
      aliases: parseModulesAlias(alias ?? ""),
      deps,
      pathByName: new Map([...deps.keys()].map((path) => [moduleName(path), path])),
      builtin: new Set(parseModuleList(builtin ?? "").map(moduleName)),
    };
  }

  /** A reproducible tar (sorted, mtime 0, root-owned) compressed once; its sha256 names the file. */
  private async writeBundle(
    kernel: string,
    modules: string[],
    firmware: string[],
  ): Promise<NonNullable<DriversAnswer["bundle"]>> {
    const files = [
      ...modules.map((path) => ({
        name: `lib/modules/${kernel}/${path}`,
        from: join(this.treeDir(kernel), path),
      })),
      ...firmware.map((file) => ({ name: `lib/firmware/${file}`, from: join(this.paths.firmwareDir, file) })),
    ].sort((a, b) => (a.name < b.name ? -1 : 1));
    const tar = pack();
    const chunks: Buffer[] = [];
    tar.on("data", (chunk: unknown) => {
      if (Buffer.isBuffer(chunk)) chunks.push(chunk);
    });
    const ended = new Promise<void>((resolve, reject) => {
      tar.on("end", resolve);
      tar.on("error", reject);
    });
    for (const file of files) {
      const data = await readFile(file.from); // firmware symlinks are followed: the bundle carries bytes
      tar.entry(
        { name: file.name, size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 },
        data,
      );
    }
    tar.finalize();
    await ended;
    const bytes = compress(Buffer.concat(chunks), { compressionLevel: 19 });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await mkdir(this.paths.bundlesDir, { recursive: true });
    const target = join(this.paths.bundlesDir, `${sha256}.tar.zst`);
    if (!existsSync(target)) {
      const temp = `${target}.${process.pid}.tmp`;
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    }
    return { sha256, sizeBytes: bytes.length, path: `/v1/drivers/bundles/${sha256}` };
  }
}

/** The modules' paths with their dependencies, each after everything it depends on, once each. */
function loadOrder(tree: KernelTree, names: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const dep of tree.deps.get(path) ?? []) visit(dep);
    order.push(path);
  };
  for (const name of names) {
    const path = tree.pathByName.get(name);
    if (path) visit(path);
  }
  return order;
}
