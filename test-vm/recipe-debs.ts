// A recipe that installs real Debian packages (and whatever they need that the Debian image lacks) with
// apt inside the machine, from files our server serves: the capture benchmark's realistic recipe and the
// capture test's sshd. apt resolves the set against the image's own dpkg status, so the recipe brings
// exactly what the image is missing.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.js";

/** The Debian image's root tree (built by build-scripts/build-os-image.ts, cached under build/). */
const IMAGE_DPKG_STATUS = join(REPO_ROOT, "build/os-cache/debian-rootfs/var/lib/dpkg/status");

/**
 * Downloads into `dir` the .debs the image needs for `packages` (apt-get download from the host's own
 * apt sources; nothing is installed on the host) and returns the recipe's script and the file names.
 */
export function prepareRecipe(dir: string, packages: readonly string[]): { script: string; files: string[] } {
  // Simulated against the image's dpkg status: apt lists what the image lacks, in install order.
  const simulation = execFileSync(
    "apt-get",
    [
      "--simulate",
      "-o",
      `Dir::State::status=${IMAGE_DPKG_STATUS}`,
      "install",
      "--no-install-recommends",
      ...packages,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const needed = [...simulation.matchAll(/^Inst (\S+)/gm)].map((m) => m[1] ?? "");
  if (needed.length === 0)
    throw new Error(`the image already has ${packages.join(", ")}: nothing to install`);
  mkdirSync(dir, { recursive: true });
  execFileSync("apt-get", ["download", ...needed], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  // apt names files with the epoch's colon escaped (openssh-server_1%3a9.2p1…): a URL would decode it.
  for (const file of readdirSync(dir).filter((f) => f.includes("%")))
    renameSync(join(dir, file), join(dir, file.replaceAll(/%[0-9a-fA-F]{2}/g, "_")));
  const files = readdirSync(dir).filter((f) => f.endsWith(".deb"));
  if (files.length !== needed.length)
    throw new Error(`apt-get download brought ${files.length} of ${needed.length} packages into ${dir}`);
  const script = [
    "mkdir -p /tmp/recipe-debs",
    "cd /tmp/recipe-debs",
    ...files.map((f) => `wget -q "$BOOTWRIGHT_FILES/${f}"`),
    // apt orders the unpacking and configuration (Pre-Depends included) of local files itself.
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./*.deb",
    "cd / && rm -rf /tmp/recipe-debs",
  ].join("\n");
  return { script, files };
}
