// `bootwright smbios --from-dump <file> [--json]`: decodes a table saved by `dmidecode --dump-bin`, with
// the agent's own parser, so an operator sees what a machine will report before it is racked.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
// The one place server/ imports agent/: the pure SMBIOS parser (no I/O); see eslint.config.js.
import { fromDumpBin, parseSmbios, type Smbios } from "../../agent/inventory/smbios/index.js";
import { formatBytes } from "./format.js";

const dash = (v: string | number | null): string => (v === null || v === "" ? "-" : String(v));

export function formatSmbios(t: Smbios): string {
  const lines = [`SMBIOS ${t.version} (${t.entryPoint.anchor}), ${t.structures.length} structures`];
  if (t.bios)
    lines.push(`BIOS        ${dash(t.bios.vendor)} ${dash(t.bios.version)} ${dash(t.bios.releaseDate)}`);
  if (t.system)
    lines.push(
      `system      ${dash(t.system.manufacturer)} ${dash(t.system.product)} serial ${dash(t.system.serial)}`,
      `uuid        ${dash(t.system.uuid)}`,
    );
  for (const b of t.baseboards)
    lines.push(
      `baseboard   ${dash(b.manufacturer)} ${dash(b.product)} serial ${dash(b.serial)} slot ${dash(b.locationInChassis)}`,
    );
  for (const c of t.chassis)
    lines.push(`chassis     ${dash(c.type)} serial ${dash(c.serial)} asset tag ${dash(c.assetTag)}`);
  for (const p of t.processors)
    lines.push(
      `processor   ${dash(p.socket)}: ${dash(p.version)} cores ${dash(p.coreCount)} threads ${dash(p.threadCount)}`,
    );
  for (const m of t.memoryDevices)
    lines.push(
      `memory      ${dash(m.locator)}: ${m.sizeBytes ? formatBytes(m.sizeBytes) : "empty"} ${dash(m.type)} ${dash(m.speedMts)} MT/s`,
    );
  for (const s of t.slots)
    lines.push(`slot        ${dash(s.designation)} ${dash(s.currentUsage)} ${dash(s.busAddress)}`);
  for (const d of t.onboardDevices)
    lines.push(
      `onboard     ${dash(d.referenceDesignation)} ${dash(d.type)} ${d.enabled ? "enabled" : "disabled"} ${dash(d.busAddress)}`,
    );
  for (const [i, s] of t.oemStrings.entries()) lines.push(`OEM string ${i + 1}: ${s}`);
  return lines.join("\n");
}

export function addSmbiosCommand(program: Command): void {
  program
    .command("smbios")
    .description("decode an SMBIOS table saved with `dmidecode --dump-bin FILE`")
    .requiredOption("--from-dump <file>", "the dump file")
    .option("--json", "print JSON")
    .action((opts: { fromDump: string; json?: boolean }) => {
      const split = fromDumpBin(new Uint8Array(readFileSync(opts.fromDump)));
      const parsed = split.ok ? parseSmbios(split.value.entryPoint, split.value.table) : split;
      if (!parsed.ok) {
        const { code, offset, message } = parsed.error;
        if (opts.json) console.log(JSON.stringify({ error: parsed.error }, null, 2));
        throw new Error(`${opts.fromDump}: ${code} at offset ${offset}: ${message}`);
      }
      console.log(opts.json ? JSON.stringify(parsed.value, null, 2) : formatSmbios(parsed.value));
    });
}
