// What both sides import: wire types (zod schemas and their types), the in-process error base, pure
// helpers. No I/O here.
export * from "./boot-category.js";
export * from "./boot-path.js";
export * from "./site-boot.js";
export * from "./auth.js";
export * from "./commands.js";
export * from "./difference.js";
export * from "./release.js";
export * from "./enrollment.js";
export * from "./errors.js";
export * from "./failure.js";
export * from "./inventory.js";
export * from "./mac.js";
export * from "./machine.js";
export * from "./machine-lifecycle.js";
export * from "./next-action.js";
export * from "./policy.js";
export * from "./agent-plan.js";
export * from "./images.js";
export * from "./maintenance.js";
export * from "./health.js";
export * from "./power.js";
export * from "./bios.js";
export * from "./drift.js";
export * from "./drivers.js";
export * from "./events.js";
export * from "./sse.js";
