// Reads a factory station file (issue 22): YAML or JSON → StationFile, or every problem with its path
// and source line, through the policy's document reader (one reader, two schemas).
import { readFileSync } from "node:fs";
import { BootwrightError, StationFile, type PolicyFormat, type PolicyIssue } from "../../protocol/index.js";
import { formatPolicyIssues, parseDocumentAs, policyFormatOf } from "../policy/load.js";

export type StationParse = { ok: true; station: StationFile } | { ok: false; issues: PolicyIssue[] };

/** A station file that cannot be used: its problems, each with path and line. */
export class StationFileError extends BootwrightError<"invalid_station_file"> {
  constructor(file: string, issues: readonly PolicyIssue[], options?: ErrorOptions) {
    super(
      "invalid_station_file",
      `station file ${file} is not valid:\n${formatPolicyIssues(issues, file)}`,
      { file, issues },
      options,
    );
  }
}

/** Parses and validates; never throws on bad input. */
export function parseStation(source: string, format: PolicyFormat): StationParse {
  const parsed = parseDocumentAs(StationFile, source, format);
  return parsed.ok ? { ok: true, station: parsed.value } : parsed;
}

const fileIssue = (message: string): PolicyIssue => ({ path: "(file)", line: null, column: null, message });

/** Reads and validates a station file (`bootwright factory --station`); throws StationFileError. */
export function loadStationFile(file: string): {
  source: string;
  format: PolicyFormat;
  station: StationFile;
} {
  const format = policyFormatOf(file);
  if (!format)
    throw new StationFileError(file, [
      fileIssue("name it .yaml, .yml or .json: the extension says the format"),
    ]);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    throw new StationFileError(file, [fileIssue(err instanceof Error ? err.message : String(err))], {
      cause: err,
    });
  }
  const parsed = parseStation(source, format);
  if (!parsed.ok) throw new StationFileError(file, parsed.issues);
  return { source, format, station: parsed.station };
}
