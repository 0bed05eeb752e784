import { expect, it } from "vitest";
import type { PlanSpec } from "../../protocol/index.js";
import { rebootWay } from "./reboot-way.js";

const kexec: PlanSpec = { image: "debian-12", reboot: "kexec" };

it("kexec only when the plan asks for it", () => {
  expect(rebootWay({ plan: kexec, bootPath: "ipxe" })).toEqual({ via: "kexec" });
  expect(rebootWay({ plan: kexec, bootPath: "media" })).toEqual({ via: "kexec" });
  expect(rebootWay({ plan: { image: "debian-12" }, bootPath: "ipxe" })).toMatchObject({
    via: "firmware",
    reason: /default/,
  });
  expect(rebootWay({ plan: { ...kexec, reboot: "firmware" }, bootPath: "ipxe" }).via).toBe("firmware");
  expect(rebootWay({ plan: undefined, bootPath: null }).via).toBe("firmware");
});

it("through the firmware when settings wait for its reset, or on the Secure Boot path", () => {
  const bios = { ...kexec, bios: { attributes: { ProcTurboMode: "Disabled" } } };
  expect(rebootWay({ plan: bios, bootPath: "ipxe" })).toMatchObject({
    via: "firmware",
    reason: /BIOS settings/,
  });
  expect(rebootWay({ plan: { ...kexec, uefi: { secureBoot: true } }, bootPath: "ipxe" })).toMatchObject({
    via: "firmware",
    reason: /UEFI variables/,
  });
  expect(rebootWay({ plan: { ...kexec, uefi: { variables: { Vendor: "1" } } }, bootPath: "ipxe" }).via).toBe(
    "firmware",
  );
  // The boot order alone is read at the next firmware boot, whenever that comes: kexec is fine.
  expect(rebootWay({ plan: { ...kexec, uefi: { bootOrder: "disk-first" } }, bootPath: "pxe-uefi" }).via).toBe(
    "kexec",
  );
  expect(rebootWay({ plan: kexec, bootPath: "secure-boot" })).toMatchObject({
    via: "firmware",
    reason: /chain of trust/,
  });
});

it("back from a repair image through the firmware, which proves the boot path it may have rewritten", () => {
  expect(rebootWay({ plan: kexec, bootPath: "ipxe", returningFrom: "repair" })).toMatchObject({
    via: "firmware",
    reason: /repair image/,
  });
  expect(rebootWay({ plan: kexec, bootPath: "ipxe", returningFrom: "diagnostic" })).toEqual({ via: "kexec" });
});
