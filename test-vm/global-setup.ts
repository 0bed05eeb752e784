// Once per run, before any VM test file: the accelerator choice (a KVM probe boot where /dev/kvm
// exists), so files starting side by side neither probe twice nor race on build/accel.json.
import { chooseAccelerator } from "./accelerator.js";

export async function setup(): Promise<void> {
  await chooseAccelerator();
}
