// A machine's inventory as the loader posted it: system and SMBIOS, CPU, memory, disks, NICs, and the
// drivers its NICs and storage controllers use (in a full inventory).
import type { Inventory } from "../../../protocol/inventory.js";
import { formatBytes } from "../../cli/format.js";
import { Facts } from "./common.js";

function Table(props: { head: string[]; rows: (string | number | null)[][]; label: string }) {
  if (props.rows.length === 0) return null;
  return (
    <table class="grid" aria-label={props.label}>
      <thead>
        <tr>
          {props.head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row, i) => (
          <tr key={i}>
            {row.map((cell, j) => (
              <td key={j}>{cell ?? "—"}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function InventoryView(props: { inventory: Inventory }) {
  const { system, cpu, details } = props.inventory;
  const smbios = details?.smbios ?? null;
  const detailedDisks = new Map((details?.disks ?? []).map((d) => [d.name, d]));
  const detailedNics = new Map((details?.nics ?? []).map((n) => [n.name, n]));
  const drivers = [
    ...(details?.nics ?? []).map((n) => [n.driver, `NIC ${n.name}`, n.pciAddress]),
    ...(details?.storageControllers ?? []).map((c) => [
      c.driver,
      `storage ${c.vendorId}:${c.deviceId}${c.raid ? " (RAID)" : ""}`,
      c.pciAddress,
    ]),
  ].filter(([driver]) => driver !== null);
  return (
    <div class="inventory">
      <div class="columns">
        <Facts
          rows={[
            ["Manufacturer", system.manufacturer],
            ["Product", system.product],
            ["Serial", system.serial],
            ["SMBIOS UUID", system.uuid],
            ["Firmware", details?.firmwareType],
            [
              "Secure Boot",
              details?.secureBoot === undefined || details.secureBoot === null
                ? null
                : String(details.secureBoot),
            ],
            ["SMBIOS version", smbios?.version],
            [
              "BIOS",
              smbios?.bios &&
                [smbios.bios.vendor, smbios.bios.version, smbios.bios.releaseDate].filter(Boolean).join(" "),
            ],
            [
              "SKU / family",
              smbios?.system && [smbios.system.sku, smbios.system.family].filter(Boolean).join(" / "),
            ],
            [
              "Baseboard",
              smbios?.baseboard &&
                [smbios.baseboard.manufacturer, smbios.baseboard.product, smbios.baseboard.locationInChassis]
                  .filter(Boolean)
                  .join(" · "),
            ],
            [
              "Chassis",
              smbios?.chassis && [smbios.chassis.type, smbios.chassis.assetTag].filter(Boolean).join(" · "),
            ],
            ["SMBIOS problem", details?.smbiosError?.message],
          ]}
        />
        <Facts
          rows={[
            ["CPU", cpu.model],
            ["Logical CPUs", cpu.logicalCount],
            ["Vendor", details?.cpu.vendor],
            [
              "Sockets / cores / threads",
              details && `${details.cpu.sockets} / ${details.cpu.cores} / ${details.cpu.threads}`,
            ],
            ["Memory", formatBytes(props.inventory.memoryBytes)],
            [
              "Memory installed",
              details?.memory.installedBytes != null ? formatBytes(details.memory.installedBytes) : null,
            ],
            [
              "Address",
              details?.network &&
                `${details.network.address}/${details.network.prefixLength ?? "?"} on ${details.network.interface}`,
            ],
            [
              "Switch port",
              details?.network?.lldpNeighbour &&
                `${details.network.lldpNeighbour.systemName ?? details.network.lldpNeighbour.chassisId} ${details.network.lldpNeighbour.portId}`,
            ],
          ]}
        />
      </div>
      <h3>Disks</h3>
      <Table
        label="Disks"
        head={["Name", "Size", "Kind", "Model", "Serial"]}
        rows={props.inventory.disks.map((d) => {
          const more = detailedDisks.get(d.name);
          return [
            d.name,
            formatBytes(d.sizeBytes),
            more?.kind ?? null,
            more?.model ?? null,
            more?.serial ?? null,
          ];
        })}
      />
      <h3>NICs</h3>
      <Table
        label="NICs"
        head={["Name", "MAC", "Driver", "Speed", "Carrier"]}
        rows={props.inventory.nics.map((n) => {
          const more = detailedNics.get(n.name);
          return [
            n.name,
            n.mac,
            more?.driver ?? null,
            more?.speedMbps ? `${more.speedMbps} Mb/s` : null,
            more?.carrier == null ? null : more.carrier ? "up" : "down",
          ];
        })}
      />
      {smbios && smbios.processors.length > 0 && (
        <>
          <h3>Processors (SMBIOS)</h3>
          <Table
            label="Processors"
            head={["Socket", "Version", "Cores", "Threads", "Max MHz"]}
            rows={smbios.processors.map((p) => [
              p.socket,
              p.version,
              p.coreCount,
              p.threadCount,
              p.maxSpeedMhz,
            ])}
          />
        </>
      )}
      {smbios && smbios.memoryDevices.length > 0 && (
        <>
          <h3>Memory devices (SMBIOS)</h3>
          <Table
            label="Memory devices"
            head={["Locator", "Size", "Type", "MT/s", "Part number"]}
            rows={smbios.memoryDevices.map((d) => [
              d.locator,
              d.sizeBytes === null ? null : formatBytes(d.sizeBytes),
              d.type,
              d.speedMts,
              d.partNumber,
            ])}
          />
        </>
      )}
      {drivers.length > 0 && (
        <>
          <h3>Drivers</h3>
          <Table label="Drivers" head={["Driver", "Device", "PCI address"]} rows={drivers} />
        </>
      )}
    </div>
  );
}
