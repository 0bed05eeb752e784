// The machine's credential on its requests to the server: the one its enrollment answered with (the
// loader's and its agents'), as `Authorization: Bearer <credential>`.
export interface Credentialed {
  credential: string;
}

export function credentialHeaders(machine: Credentialed): { authorization: string } {
  return { authorization: `Bearer ${machine.credential}` };
}
