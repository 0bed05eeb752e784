// Reads a server answer's body once: its JSON (undefined when it is not JSON) and, for an error, its
// words: "code: message" from our error body, else the start of whatever the server sent.
import { ErrorBody } from "../../protocol/errors.js";

export async function readAnswer(response: Response): Promise<{ json: unknown; reason: string }> {
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const error = ErrorBody.safeParse(json);
  return { json, reason: error.success ? `${error.data.code}: ${error.data.message}` : text.slice(0, 200) };
}
