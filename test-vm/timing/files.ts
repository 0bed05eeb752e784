// Where the suite's timing lands: the table's JSON (compared across runs and issues) and the VMs' records.
import { resolve } from "node:path";
import { REPO_ROOT } from "../paths.js";

export const TIMING_DIR = resolve(REPO_ROOT, "build/test-timing");
export const VM_TIMINGS_PATH = resolve(TIMING_DIR, "vms.jsonl");
/** Written by build-scripts/timed.sh. */
export const STEP_TIMINGS_PATH = resolve(TIMING_DIR, "steps.jsonl");
export const SUITE_TIMING_PATH = resolve(REPO_ROOT, "build/test-timing.json");
