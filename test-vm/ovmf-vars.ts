// Reads the UEFI variables a VM's OVMF_VARS copy holds, from the host, after the VM stopped: proof that a
// variable written by the guest reached the firmware's flash. The file is a firmware volume (PI spec
// vol. 3 §3.2.1) holding an authenticated variable store (edk2 MdeModulePkg VariableFormat.h): a
// log-structured list of variables where older copies stay behind, marked deleted; only VAR_ADDED ones
// are current.
import { decodeGuid } from "../agent/installer/gpt.js";

export interface OvmfVariable {
  name: string;
  guid: string;
  attributes: number;
  data: Buffer;
}

const FV_SIGNATURE = "_FVH";
const STORE_HEADER_BYTES = 28;
const AUTH_VARIABLE_HEADER_BYTES = 60;
const START_ID = 0x55aa;
/** VAR_ADDED; VAR_ADDED & VAR_IN_DELETED_TRANSITION is still the current copy until a newer one lands. */
const LIVE_STATES = new Set([0x3f, 0x3e]);

/** The current (not deleted) variables of an OVMF_VARS file. */
export function parseOvmfVars(file: Buffer): OvmfVariable[] {
  if (file.toString("latin1", 0x28, 0x2c) !== FV_SIGNATURE) throw new Error("not a firmware volume (_FVH)");
  const fvHeaderBytes = file.readUInt16LE(0x30);
  const storeSize = file.readUInt32LE(fvHeaderBytes + 16);
  const end = Math.min(file.length, fvHeaderBytes + storeSize);
  const variables: OvmfVariable[] = [];
  let at = fvHeaderBytes + STORE_HEADER_BYTES;
  while (at + AUTH_VARIABLE_HEADER_BYTES <= end && file.readUInt16LE(at) === START_ID) {
    const state = file[at + 2] ?? 0;
    const attributes = file.readUInt32LE(at + 4);
    const nameBytes = file.readUInt32LE(at + 36);
    const dataBytes = file.readUInt32LE(at + 40);
    const guid = decodeGuid(file.subarray(at + 44, at + 60)).toLowerCase();
    const nameAt = at + AUTH_VARIABLE_HEADER_BYTES;
    const name = file.toString("utf16le", nameAt, nameAt + nameBytes).replace(/\0+$/, "");
    const data = Buffer.from(file.subarray(nameAt + nameBytes, nameAt + nameBytes + dataBytes));
    if (LIVE_STATES.has(state)) variables.push({ name, guid, attributes, data });
    at = (nameAt + nameBytes + dataBytes + 3) & ~3;
  }
  return variables;
}
