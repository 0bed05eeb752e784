// One machine's boot script, decided when it asks: enroll it on first sight, then our loader, or its own
// disk when it runs its plan. The same decision for iPXE (/boot/<mac>.ipxe over HTTP) and for the signed
// chain's GRUB (grub.cfg over TFTP); only the script's language differs.
import type { BootPath, MacAddress } from "../../protocol/index.js";
import type { BootAnswer, Services } from "../services.js";
import { renderLoaderScript, renderLocalBootScript, type Templates } from "./render.js";

export interface MachineScriptDeps {
  store: Services;
  templates: Templates;
  advertiseUrl: string;
  /** Where firmware fetches boot files: advertiseUrl, over plain HTTP when the API is TLS. */
  bootUrl: string;
  kernelArgs: string;
}

export interface MachineScriptRequest {
  mac: MacAddress;
  uuid: string | null;
  path: BootPath;
  /** iPXE's script language, or GRUB's. */
  language: "ipxe" | "grub";
  at: Date;
}

export async function machineBootScript(
  deps: MachineScriptDeps,
  request: MachineScriptRequest,
): Promise<BootAnswer & { script: string }> {
  const decided = await deps.store.recordBootRequest({
    mac: request.mac,
    uuid: request.uuid,
    path: request.path,
    at: request.at,
  });
  const grub = request.language === "grub";
  const script =
    decided.answer === "local-disk"
      ? renderLocalBootScript(deps.templates[grub ? "local-grub" : "local"], decided.machine.id)
      : renderLoaderScript(deps.templates[grub ? "loader-grub" : "loader"], {
          serverUrl: deps.bootUrl,
          apiUrl: deps.advertiseUrl,
          machineId: decided.machine.id,
          mac: request.mac,
          kernelArgs: deps.kernelArgs,
          path: request.path,
        });
  return { ...decided, script };
}
