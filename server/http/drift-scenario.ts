// Test support for drift (policy-drift.test.ts, the CLI's test): a server with policy v1, one machine
// installed under it and one planned (its disk check done, its agent not started), over the real API.
import { compress } from "zstd-napi";
import type { Inventory } from "../../protocol/index.js";
import {
  OPERATOR,
  installUntilReboot,
  jsonRequest,
  leaseCommand,
  postResult,
  inventoryFor,
} from "../test-support.js";

export const INSTALLED = "0e0c8a6a-6f5f-4c43-9d57-0000000000d1";
export const PLANNED = "0e0c8a6a-6f5f-4c43-9d57-0000000000d2";

/** v1: every machine gets the image as it is. */
export const POLICY_V1 = { rules: [{ name: "base", match: [], plan: { image: "tiny" } }] };
/** v2: the same image with a UEFI boot order: another plan, from another rule. */
export const POLICY_V2 = {
  rules: [{ name: "disk-first", match: [], plan: { image: "tiny", uefi: { bootOrder: "disk-first" } } }],
};

export function machineInventory(uuid: string, n: number): Inventory {
  const mac = `52:54:00:d0:00:0${n}`;
  return inventoryFor(mac, { product: "X1", serial: `SN-D${n}`, uuid });
}

async function ok(what: string, res: Promise<{ status: number; body: unknown }>): Promise<unknown> {
  const answer = await res;
  if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export function setPolicy(url: string, policy: unknown): Promise<unknown> {
  return ok(
    "set policy",
    jsonRequest(`${url}/v1/policy`, "PUT", { format: "json", source: JSON.stringify(policy) }),
  );
}

/** Policy v1, the image, INSTALLED installed under v1 and PLANNED planned under v1. */
export async function driftScenario(url: string): Promise<void> {
  await setPolicy(url, POLICY_V1);
  const put = await fetch(`${url}/v1/images?name=tiny&format=raw.zst`, {
    headers: OPERATOR,
    method: "PUT",
    body: compress(Buffer.alloc(1 << 20, 7)),
  });
  if (put.status !== 201) throw new Error(`image upload: HTTP ${put.status}`);

  await ok("inventory", jsonRequest(`${url}/v1/inventory`, "POST", machineInventory(INSTALLED, 1)));
  await installUntilReboot(url, INSTALLED);
  const machine = (await ok("machine", jsonRequest(`${url}/v1/machines/${INSTALLED}`, "GET"))) as {
    plan: { planHash: string };
  };
  await ok(
    "call home",
    jsonRequest(`${url}/v1/machines/${INSTALLED}/callhome`, "POST", {
      image: "sha256:x",
      planHash: machine.plan.planHash,
      os: "tiny 6.1",
    }),
  );

  await ok("inventory", jsonRequest(`${url}/v1/inventory`, "POST", machineInventory(PLANNED, 2)));
  await ok(
    "expect installed",
    jsonRequest(`${url}/v1/machines/${PLANNED}/expected`, "PUT", { category: "installed" }),
  );
  const check = await leaseCommand(url, PLANNED, "check-disks");
  await postResult(url, PLANNED, check, {
    leaseId: check.leaseId,
    outcome: "succeeded",
    output: { kind: "check-disks", disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }] },
  });
}
