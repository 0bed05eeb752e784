// The boot category: where a machine is in its pre-boot life (seed 000). One enum for both sides.
import { z } from "zod";

export const BootCategory = z.enum([
  "discovered", // iPXE asked for its script; nothing else known yet
  "inventoried", // the loader posted its hardware inventory
  "planned",
  "configuring",
  "imaging",
  "capturing",
  "installed",
  "maintenance",
  "failed",
]);
export type BootCategory = z.infer<typeof BootCategory>;
