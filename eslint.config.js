// One lint setup: typescript-eslint's type-aware rules (floating promises, exhaustive switches) + Prettier.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "build/", "dist/", "var/", "bench/results.json", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true },
      ],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "no-restricted-syntax": [
        "error",
        { selector: "ExportDefaultDeclaration", message: "Use named exports (style.md)." },
        {
          // zod's `z` object names all of zod (~50 locales, JSON Schema both ways), which no bundler can
          // drop: 582 KB of zod in the loader's start instead of 144 KB, 34 ms of Node's start on the host.
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
          message:
            'Import zod as a namespace: `import * as z from "zod"`, so bundles keep only what they use.',
        },
      ],
    },
  },
  {
    // Dependencies point inward: protocol/ imports only zod.
    files: ["protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:*", "../server/*", "../agent/*", "../test-vm/*"],
              message: "protocol/ has no I/O and imports only zod.",
            },
          ],
        },
      ],
    },
  },
  {
    // The agent never imports the server, nor the reverse.
    files: ["agent/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/server/**"], message: "agent/ must not import server/." }] },
      ],
    },
  },
  {
    // What the server loads of agent/ to choose plugins stays pure: no builtin, no package, no plugin's
    // steps (agent/installer/registry.test.ts checks the whole module graph).
    files: ["agent/installer/registry.ts", "agent/installer/probes/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/server/**"], message: "agent/ must not import server/." },
            {
              regex: "^(?!\\.)|/(plugins|shared|loader|inventory)/|/runtime\\.js$",
              message:
                "the probe registry is loaded by the server: only pure probes, protocol/ and plugin.ts.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["server/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/agent/**"],
              message: "server/ must not import agent/ (it bundles agent code with esbuild, by path).",
            },
          ],
        },
      ],
    },
  },
  {
    // Narrow exception: the agent builder runs the installer plugins' probes (pure functions of
    // inventory + plan) to choose what to bundle, and imports nothing else of agent/.
    files: ["server/agent-builder.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "/agent/(?!installer/registry)",
              message: "server/agent-builder.ts may import only agent/installer/registry (the probes).",
            },
          ],
        },
      ],
    },
  },
  {
    // Narrow exception: `bootwright smbios --from-dump` decodes an operator's dmidecode dump with the
    // agent's own SMBIOS parser, so both report the same fields and the same errors. The parser is pure
    // (bytes in, result out, no I/O), so the server gains no agent dependency beyond that code.
    files: ["server/cli/smbios*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "/agent/(?!inventory/smbios/)",
              message: "server/cli/smbios*.ts may import only agent/inventory/smbios/ (the pure parser).",
            },
          ],
        },
      ],
    },
  },
  {
    // Only the loader's console printer and CLI output may write to the console.
    files: ["agent/**/*.ts", "server/**/*.ts", "protocol/**/*.ts"],
    ignores: ["agent/loader/console.ts", "server/cli/**/*.ts"],
    rules: { "no-console": "error" },
  },
  {
    files: ["eslint.config.js"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["eslint.config.js", "vitest.config.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
  prettier,
);
