// Policy files: YAML and JSON read into the same Policy; every problem reported with its path and the
// line (and column) in the source, never a throw.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hasCode, type PolicyIssue } from "../../protocol/index.js";
import { loadPolicyFile, parsePolicy } from "./load.js";

function issues(source: string, format: "yaml" | "json"): PolicyIssue[] {
  const parsed = parsePolicy(source, format);
  if (parsed.ok) throw new Error("expected the policy to be refused");
  return parsed.issues;
}

const GOOD_YAML = `rules:
  - name: blades
    match:
      - fact: product
        glob: "X1*"
    plan:
      image: debian-12
`;

describe("parsePolicy", () => {
  it("reads the same policy from YAML and from JSON", () => {
    const yaml = parsePolicy(GOOD_YAML, "yaml");
    const json = parsePolicy(
      JSON.stringify({
        rules: [{ name: "blades", match: [{ fact: "product", glob: "X1*" }], plan: { image: "debian-12" } }],
      }),
      "json",
    );
    expect(yaml).toEqual(json);
    expect(yaml.ok).toBe(true);
  });

  it("YAML: a schema error names the path and the line of the offending value", () => {
    const source = `rules:
  - name: blades
    match:
      - { fact: product, glob: "X1*" }
      - { fact: memoryBytes, gte: 64 gigs }
    plan:
      image: debian-12
      raid: { level: 5, disks: 2 }
`;
    expect(issues(source, "yaml")).toEqual([
      {
        path: "rules.0.match.1.gte",
        line: 5,
        column: 35,
        message: 'not a number or size: "64 gigs" (e.g. 64GiB, 500GB, 1048576)',
      },
      { path: "rules.0.plan.raid.disks", line: 8, column: 32, message: "RAID 5 needs at least 3 disks" },
    ]);
  });

  it("YAML: an unknown key is pointed at on its own line; a missing one at its parent", () => {
    const source = `rules:
  - name: blades
    match: []
    plan:
      image: debian-12
      imagee: debian-13
  - name: second
    match: []
    plan:
      raid: { level: 1, disks: all }
`;
    const found = issues(source, "yaml");
    expect(found).toContainEqual(
      expect.objectContaining({ path: "rules.0.plan.imagee", line: 6, column: 7 }),
    );
    expect(found).toContainEqual(expect.objectContaining({ path: "rules.1.plan.image", line: 10 }));
  });

  it("YAML: an unknown fact and a duplicated rule name, each on its line", () => {
    const source = `rules:
  - name: a
    match:
      - fact: details.smbios.baseboard.slot
        equals: "Slot 7"
    plan: { image: x }
  - name: a
    match: []
    plan: { image: y }
`;
    const found = issues(source, "yaml");
    expect(found[0]).toMatchObject({ path: "rules.0.match.0.fact", line: 4 });
    expect(found[0]?.message).toMatch(/unknown fact "details.smbios.baseboard.slot"/);
    expect(found[1]).toMatchObject({
      path: "rules.1.name",
      line: 7,
      message: 'rule name "a" is already used by rule 0',
    });
  });

  it("YAML: a syntax error gives its line", () => {
    const found = issues("rules:\n  - name: a\n    match: [\n  plan: {}\n", "yaml");
    expect(found[0]?.path).toBe("(root)");
    expect(found[0]?.message).toMatch(/^not valid YAML/);
    expect(found[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it("YAML: a duplicated key is an error, not a silent overwrite", () => {
    expect(issues("rules: []\nrules: []\n", "yaml")[0]).toMatchObject({
      line: 2,
      message: expect.stringMatching(/unique/i) as unknown,
    });
  });

  it("JSON: a schema error names the path and the line", () => {
    const source = `{
  "rules": [
    {
      "name": "blades",
      "match": [{ "fact": "diskCount", "gte": 2, "lte": 4 }],
      "plan": { "image": 7 }
    }
  ]
}`;
    expect(issues(source, "json")).toEqual([
      {
        path: "rules.0.match.0",
        line: 5,
        column: 17,
        message: "give exactly one operator of equals, in, gte, lte, glob, regex, exists (got gte, lte)",
      },
      {
        path: "rules.0.plan.image",
        line: 6,
        column: 26,
        message: "Invalid input: expected string, received number",
      },
    ]);
  });

  it("JSON: a syntax error gives its line; YAML-only syntax is not JSON", () => {
    const found = issues('{\n  "rules": [\n    { "name": "a", },\n  ]\n}', "json");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ path: "(root)", line: 3 });
    expect(found[0]?.message).toMatch(/^not valid JSON/);
    expect(issues("rules: []", "json")[0]?.message).toMatch(/^not valid JSON/);
  });

  it("YAML: an alias bomb (billion laughs) is refused as an issue before it expands, not thrown", () => {
    const levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const started = Date.now();
    const found = issues(`${levels.join("\n")}\nrules: *a8\n`, "yaml");
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe("(root)");
    expect(found[0]?.message).toMatch(/^not a usable YAML/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("refuses a policy nested over 100 levels (the YAML parser would recurse into the stack limit)", () => {
    for (const source of ["[".repeat(5_000) + "]".repeat(5_000), `rules: ${"- ".repeat(3_000)}x`]) {
      const found = issues(source, "yaml");
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        path: "(root)",
        line: 1,
        message: "nested more than 100 levels deep",
      });
    }
    expect(issues(`{"rules": ${"[".repeat(200)}${"]".repeat(200)}}`, "json")[0]?.message).toMatch(/nested/);
  });

  it("the root must be an object with rules", () => {
    expect(issues("[]", "json")[0]).toMatchObject({ path: "(root)", line: 1 });
    expect(issues("rules: []\nextra: 1\n", "yaml")[0]).toMatchObject({ path: "extra", line: 2, column: 1 });
  });
});

describe("loadPolicyFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-policy-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the format from the extension", () => {
    writeFileSync(join(dir, "p.yml"), GOOD_YAML);
    expect(loadPolicyFile(join(dir, "p.yml"))).toMatchObject({ format: "yaml", source: GOOD_YAML });
  });

  it("throws a PolicyFileError whose message has file:line and path", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, GOOD_YAML.replace("glob", "glob2"));
    let caught: unknown;
    try {
      loadPolicyFile(file);
    } catch (err) {
      caught = err;
    }
    if (!hasCode(caught, "invalid_policy_file")) throw caught;
    expect(caught.name).toBe("PolicyFileError");
    expect(caught.context.file).toBe(file);
    expect(caught.context.issues).toContainEqual({
      path: "rules.0.match.0.glob2",
      line: 5,
      column: 9,
      message: 'Unrecognized key: "glob2"',
    });
    expect(caught.message).toContain(`${file}:5:9 rules.0.match.0.glob2: Unrecognized key: "glob2"`);
  });

  it("refuses an unknown extension and a missing file", () => {
    writeFileSync(join(dir, "p.txt"), GOOD_YAML);
    expect(() => loadPolicyFile(join(dir, "p.txt"))).toThrow(/\.yaml, \.yml or \.json/);
    expect(() => loadPolicyFile(join(dir, "none.json"))).toThrow(/ENOENT/);
  });
});
