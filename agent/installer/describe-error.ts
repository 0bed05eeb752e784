// One line for an error in a step's report or a retry message: its message and, when it has one, its
// errno-style code (ECONNRESET, UND_ERR_SOCKET, …), which is often the useful part.
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = "code" in err && typeof err.code === "string" ? ` (${err.code})` : "";
  return `${err.message}${code}`;
}
