// Which image a machine's write-image installs (seed 003): for a plan with a recipe, the image captured
// from that recipe on a machine of the same configuration fingerprint if there is one; otherwise the
// plan's image — and with a recipe, the instruction to run its script and capture the result.
import type { AgentPlan, ImageRecord, Machine } from "../protocol/index.js";
import type { ImageCatalog } from "./images/catalog.js";

/** The catalogue look-ups it needs: the services', or one transaction's (an image deletion's check). */
export interface ImageLookup {
  images: Pick<ImageCatalog, "find" | "findCaptured">;
}

export type InstallSource =
  | { kind: "image"; image: ImageRecord; capture?: NonNullable<AgentPlan["capture"]>; captured: boolean }
  | { kind: "missing"; image: string };

/** What a captured image records about the machine it was built on. */
function inventorySummary(machine: Machine): Record<string, unknown> {
  const inventory = machine.inventory;
  return {
    manufacturer: inventory?.system.manufacturer ?? null,
    product: inventory?.system.product ?? null,
    cpu: inventory?.cpu.model ?? null,
    logicalCpus: inventory?.cpu.logicalCount ?? null,
    memoryBytes: inventory?.memoryBytes ?? null,
    disks: inventory?.disks.map((d) => d.sizeBytes) ?? [],
  };
}

export async function installSource(
  store: ImageLookup,
  machine: Machine,
  advertiseUrl: string,
): Promise<InstallSource> {
  const spec = machine.plan?.plan;
  if (!spec) return { kind: "missing", image: "(no plan)" };
  const recipe = spec.recipe;
  if (recipe && machine.fingerprint) {
    const captured = await store.images.findCaptured(recipe.name, machine.fingerprint);
    if (captured) return { kind: "image", image: captured, captured: true };
  }
  const base = await store.images.find(spec.image);
  if (!base) return { kind: "missing", image: spec.image };
  if (!recipe || !machine.fingerprint) return { kind: "image", image: base, captured: false };
  return {
    kind: "image",
    image: base,
    captured: false,
    capture: {
      recipe: recipe.name,
      script: recipe.script,
      filesUrl: `${advertiseUrl}/v1/recipes/${recipe.name}/files`,
      ...(recipe.growRootMiB === undefined ? {} : { growRootMiB: recipe.growRootMiB }),
      imageName: `${recipe.name}-${machine.fingerprint.slice("sha256:".length, "sha256:".length + 12)}`,
      fingerprint: machine.fingerprint,
      inventorySummary: inventorySummary(machine),
    },
  };
}
