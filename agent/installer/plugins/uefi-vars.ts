// UEFI settings (seed 002 claims 39, 40): applies to machines that booted through UEFI and whose plan has
// UEFI settings. Real writes through efivarfs, each read back:
// - BootOrder per plan.uefi.bootOrder: the Boot#### options are classed network / disk / firmware by
//   their device paths (efi-boot.ts) and the wanted class moves to the front. With "disk-first" on a
//   machine that booted from the network, BootNext is set to the option it booted from, so the reboot
//   after the install still reaches the server (which then sends it to its disk, or retries a failed
//   install); later boots follow BootOrder.
// - plan.uefi.variables: NV+BS+RT variables under our vendor GUID (BOOTWRIGHT_GUID), UTF-8 data.
// - plan.uefi.secureBoot: only READ (the SecureBoot variable). An OS cannot switch Secure Boot: that takes
//   enrolling keys (PK/KEK/db) through the firmware's setup or a signed key update, and SecureBoot itself
//   is a read-only, volatile status variable. A difference is reported in the step data, never faked.
// Note for OVMF under QEMU: when QEMU passes a boot order (bootindex=…), OVMF rewrites BootOrder to match
// it on every boot, so a BootOrder we write lasts until the next boot there; BootNext and our own
// variables are kept. On real firmware BootOrder persists.
import { readBootOptions, readGlobalNumbers } from "../boot-options.js";
import {
  bootName,
  bootNextFor,
  efivarData,
  efivarFile,
  encodeBootNumbers,
  NV_BS_RT,
  reorderBootOrder,
} from "../efi-boot.js";
import { BOOTWRIGHT_GUID, ensureEfivarfs, GLOBAL_GUID, readEfivar, writeEfivar } from "../efivarfs.js";
import type { InstallerPlugin } from "../plugin.js";
import { uefiVarsProbe } from "../probes/uefi-vars.js";

export const uefiVars: InstallerPlugin = {
  ...uefiVarsProbe,
  steps: [
    {
      name: "secure-boot",
      run: async (ctx) => {
        await ensureEfivarfs(ctx.root, ctx.exec, ctx.signal);
        const file = await readEfivar(ctx.root, "SecureBoot", GLOBAL_GUID);
        const actual = file ? efivarData(file)[0] === 1 : null;
        const wanted = ctx.plan.uefi?.secureBoot ?? null;
        const matches = wanted === null || wanted === actual;
        ctx.progress(matches ? "Secure Boot state" : "Secure Boot differs from the plan: cannot change it", {
          secureBoot: actual,
          wanted,
        });
        return {
          secureBoot: actual,
          wanted,
          matches,
          changed: false,
          ...(matches
            ? {}
            : {
                limitation:
                  "Secure Boot cannot be switched from the OS: it needs keys enrolled (PK/KEK/db) through the firmware's setup or a signed update; SecureBoot is a read-only status variable",
              }),
        };
      },
    },
    {
      name: "boot-order",
      run: async (ctx) => {
        const wish = ctx.plan.uefi?.bootOrder;
        await ensureEfivarfs(ctx.root, ctx.exec, ctx.signal);
        const before = (await readGlobalNumbers(ctx.root, "BootOrder")) ?? [];
        const bootCurrent = (await readGlobalNumbers(ctx.root, "BootCurrent"))?.[0];
        const options = (await readBootOptions(ctx.root, before)).map((o) => ({
          option: o.option,
          description: o.description,
          class: o.class,
          active: o.active,
          path: o.path,
        }));
        const report = {
          wanted: wish ?? null,
          before: before.map(bootName),
          bootCurrent: bootCurrent === undefined ? null : bootName(bootCurrent),
          options,
        };
        if (!wish) return { ...report, after: report.before, changed: false };
        const classes = new Map(before.map((n, i) => [n, options[i]?.class ?? "other"]));
        const wantedClass = wish === "disk-first" ? "disk" : "network";
        if (!options.some((o) => o.class === wantedClass)) {
          // Some firmware makes a disk's entry only once the disk holds a bootable ESP: nothing to move yet.
          ctx.progress("no boot option of the wanted class: BootOrder left as it is", { wanted: wish });
          return {
            ...report,
            after: report.before,
            changed: false,
            reason: `no ${wantedClass} option in BootOrder`,
          };
        }
        const order = reorderBootOrder(before, classes, wish);
        const changed = await writeEfivar(
          ctx.root,
          "BootOrder",
          GLOBAL_GUID,
          efivarFile(NV_BS_RT, encodeBootNumbers(order)),
          ctx.exec,
          ctx.signal,
        );
        const readBack = (await readGlobalNumbers(ctx.root, "BootOrder")) ?? [];
        const next = bootNextFor(wish, bootCurrent, classes);
        if (next !== undefined)
          await writeEfivar(
            ctx.root,
            "BootNext",
            GLOBAL_GUID,
            efivarFile(NV_BS_RT, encodeBootNumbers([next])),
            ctx.exec,
            ctx.signal,
          );
        const bootNext = (await readGlobalNumbers(ctx.root, "BootNext"))?.[0];
        ctx.progress("UEFI BootOrder set", {
          before: report.before.join(","),
          after: readBack.map(bootName).join(","),
          bootNext: bootNext === undefined ? undefined : bootName(bootNext),
        });
        return {
          ...report,
          after: readBack.map(bootName),
          changed,
          verified: JSON.stringify(readBack) === JSON.stringify(order),
          bootNext: bootNext === undefined ? null : bootName(bootNext),
        };
      },
    },
    {
      name: "vendor-variables",
      run: async (ctx) => {
        const variables = Object.entries(ctx.plan.uefi?.variables ?? {});
        if (variables.length === 0) return { guid: BOOTWRIGHT_GUID, variables: [] };
        await ensureEfivarfs(ctx.root, ctx.exec, ctx.signal);
        const written = [];
        for (const [name, value] of variables) {
          const data = Buffer.from(value, "utf8");
          const changed = await writeEfivar(
            ctx.root,
            name,
            BOOTWRIGHT_GUID,
            efivarFile(NV_BS_RT, data),
            ctx.exec,
            ctx.signal,
          );
          written.push({ name, bytes: data.length, changed, verified: true });
        }
        ctx.progress("UEFI variables written", {
          guid: BOOTWRIGHT_GUID,
          names: written.map((v) => v.name).join(","),
        });
        return { guid: BOOTWRIGHT_GUID, attributes: "NV|BS|RT", variables: written };
      },
    },
  ],
};
