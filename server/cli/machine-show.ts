// `bootwright machines show <id> [--json]`: one machine with its full inventory, readable (pure formatter
// + the command wiring).
import type { Command } from "commander";
import { Machine } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, SERVER_HELP } from "./api-client.js";
import { formatBytes, formatTable } from "./format.js";

const dash = (v: string | number | boolean | null | undefined): string =>
  v === null || v === undefined || v === "" ? "-" : String(v);

export function formatMachine(m: Machine): string {
  const lines = [
    `machine   ${m.id}`,
    `category  ${m.category}`,
    `boot MAC  ${m.bootMac}`,
    `seen      ${m.firstSeenAt} … ${m.lastSeenAt}`,
    `tags      ${m.tags.length ? m.tags.join(", ") : "-"}`,
    ...(m.retired ? [`retired   by ${m.retired.by} at ${m.retired.at}`] : []),
    ...(m.note === null ? [] : ["note", indent(m.note)]),
  ];
  const inv = m.inventory;
  if (!inv) return [...lines, "", "no inventory yet"].join("\n");
  const d = inv.details;
  const s = d?.smbios;
  lines.push(
    `fingerprint ${m.fingerprint ?? "-"}`,
    "",
    "system",
    `  manufacturer  ${dash(inv.system.manufacturer)}`,
    `  product       ${dash(inv.system.product)}`,
    `  serial        ${dash(inv.system.serial)}`,
    `  uuid          ${dash(inv.system.uuid)}`,
    `  firmware      ${dash(d?.firmwareType)}${s?.bios ? ` (${dash(s.bios.vendor)} ${dash(s.bios.version)} ${dash(s.bios.releaseDate)})` : ""}`,
    `  SMBIOS        ${s ? s.version : d?.smbiosError ? `unreadable: ${d.smbiosError.code} at ${d.smbiosError.offset}` : "-"}`,
    `  board         ${s?.baseboard ? `${dash(s.baseboard.manufacturer)} ${dash(s.baseboard.product)} serial ${dash(s.baseboard.serial)}` : "-"}`,
    `  blade slot    ${dash(s?.baseboard?.locationInChassis)}`,
    `  asset tag     ${dash(s?.chassis?.assetTag)}`,
    `  OEM strings   ${s?.oemStrings.length ? s.oemStrings.join(" | ") : "-"}`,
    "",
    "cpu",
    `  model         ${dash(inv.cpu.model)}`,
    `  topology      ${d ? `${d.cpu.sockets} socket(s), ${d.cpu.cores} core(s), ${d.cpu.threads} thread(s)` : `${inv.cpu.logicalCount} logical`}`,
    `  flags         ${d ? d.cpu.flags.length : "-"} (${d ? d.cpu.flags.filter((f) => ["avx2", "avx512f", "aes", "vmx", "svm", "sse4_2"].includes(f)).join(" ") : ""})`,
    "",
    "memory",
    `  MemTotal      ${formatBytes(inv.memoryBytes)}`,
    `  installed     ${d?.memory.installedBytes != null ? formatBytes(d.memory.installedBytes) : "-"}`,
  );
  for (const dev of s?.memoryDevices ?? [])
    lines.push(
      `  ${dash(dev.locator)}  ${dev.sizeBytes ? formatBytes(dev.sizeBytes) : "empty"} ${dash(dev.type)} ${dev.speedMts ?? "-"} MT/s ${dash(dev.manufacturer)}`,
    );
  lines.push("", "NICs");
  const nicRows = (
    d?.nics ?? inv.nics.map((n) => ({ ...n, driver: null, pciAddress: null, speedMbps: null, carrier: null }))
  ).map((n) => [
    n.name,
    n.mac,
    dash(n.driver),
    dash(n.pciAddress),
    n.speedMbps ? `${n.speedMbps} Mb/s` : "-",
    n.carrier === null ? "-" : n.carrier ? "up" : "down",
  ]);
  lines.push(indent(formatTable(["NAME", "MAC", "DRIVER", "PCI", "SPEED", "LINK"], nicRows)), "", "disks");
  const diskRows = (d?.disks ?? []).map((x) => [
    x.name,
    formatBytes(x.sizeBytes),
    x.kind,
    dash(x.model),
    dash(x.serial),
    dash(x.wwn),
    dash(x.pciAddress),
  ]);
  lines.push(
    d
      ? indent(formatTable(["NAME", "SIZE", "KIND", "MODEL", "SERIAL", "WWN", "PCI"], diskRows))
      : indent(inv.disks.map((x) => `${x.name} ${formatBytes(x.sizeBytes)}`).join("\n") || "none"),
  );
  const raid = d?.storageControllers.filter((c) => c.raid) ?? [];
  lines.push(
    "",
    `RAID controllers  ${raid.length ? raid.map((c) => `${c.pciAddress} ${c.vendorId}:${c.deviceId} ${dash(c.driver)}`).join(", ") : "none"}`,
  );
  const net = d?.network;
  lines.push(
    `network           ${net ? `${net.interface} ${net.address}${net.prefixLength === null ? "" : `/${net.prefixLength}`} gateway ${dash(net.gateway)} DHCP server ${dash(net.dhcpServer)}` : "-"}`,
  );
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** Adds `show <id>` under `machines`; reads --json/--server from itself or its parent (commander passes either). */
export function addMachineShow(machines: Command): void {
  machines
    .command("show <id>")
    .description("one machine with its full inventory")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ json?: boolean; server?: string }>();
      const machine = Machine.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(id)}`),
      );
      console.log(opts.json ? JSON.stringify(machine, null, 2) : formatMachine(machine));
    });
}
