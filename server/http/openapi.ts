// GET /openapi.json: the API as OpenAPI 3.1, made from what the routes declare (their zod schemas for
// path, query and body, and their access) and from openapi-docs.ts (each route's summary and the
// protocol/ schema of its answer), through zod 4's JSON Schema output (draft 2020-12, which OpenAPI 3.1
// uses as is). Built once, on the first request, when every route is declared.
import { readFileSync } from "node:fs";
import * as z from "zod";
import { ErrorBody } from "../../protocol/index.js";
import type { App, RouteInfo } from "./app.js";
import { ROUTE_DOCS } from "./openapi-docs.js";

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/** A zod schema as JSON Schema; undefined for what is not a zod schema (a route without one). */
function jsonSchema(schema: unknown, io: "input" | "output"): JsonSchema | undefined {
  if (!(schema instanceof z.ZodType)) return undefined;
  const converted: JsonSchema = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    target: "draft-2020-12",
  });
  // The document says which dialect once (jsonSchemaDialect), not in every schema.
  delete converted.$schema;
  return converted;
}

/** `/v1/machines/:id` → `/v1/machines/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}

/** The path and query parameters of a route, from its object schemas. */
function parameters(route: RouteInfo): JsonSchema[] {
  const list: JsonSchema[] = [];
  for (const [where, schema] of [
    ["path", route.schema.params],
    ["query", route.schema.querystring],
  ] as const) {
    const object = jsonSchema(schema, "input");
    const properties = (object?.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((object?.required ?? []) as string[]);
    for (const [name, property] of Object.entries(properties))
      list.push({ name, in: where, required: where === "path" || required.has(name), schema: property });
  }
  // Path parameters the schema does not name (a route without a params schema) are still strings.
  for (const match of route.url.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g))
    if (!list.some((p) => p.in === "path" && p.name === match[1]))
      list.push({ name: match[1], in: "path", required: true, schema: { type: "string" } });
  return list;
}

function operation(route: RouteInfo): Operation {
  const doc = ROUTE_DOCS[`${route.method} ${route.url}`];
  const success = doc?.produces
    ? { content: { [doc.produces]: { schema: {} } } }
    : doc?.response
      ? { content: { "application/json": { schema: jsonSchema(doc.response, "output") } } }
      : {};
  const body = jsonSchema(route.schema.body, "input");
  const requestBody = doc?.consumes
    ? {
        required: true,
        content: { [doc.consumes]: { schema: { type: "string", contentMediaType: doc.consumes } } },
      }
    : body
      ? { required: true, content: { "application/json": { schema: body } } }
      : undefined;
  const params = parameters(route);
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
    ...(doc ? { summary: doc.summary } : {}),
    description: `Access: ${route.access}.`,
    "x-bootwright-access": route.access,
    security: route.access === "public" ? [] : [{ bearer: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: {
      "2XX": { description: doc?.summary ?? "Success.", ...success },
      default: {
        description: "Every refusal: { code, message, details? } (see the error catalogue).",
        content: { "application/json": { schema: jsonSchema(ErrorBody, "output") } },
      },
    },
  };
}

/** The document for these routes (HEAD routes, which fastify adds for each GET, are left implicit). */
export function openApiDocument(routes: readonly RouteInfo[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const route of routes) {
    if (route.method === "HEAD") continue;
    const path = openApiPath(route.url);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "bootwright",
      version,
      description:
        "Network-boot provisioning for bare metal. Operators send `Authorization: Bearer bwo_…` (roles viewer < operator < admin); machines their own `bwm_…` credential. Every GET but the event stream also answers HEAD.",
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An operator's API token, or a machine's credential.",
        },
      },
    },
    paths,
  };
}

/** The version in package.json: the document's info.version. */
export function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return z.object({ version: z.string() }).parse(JSON.parse(text)).version;
}

export function addOpenApiRoute(app: App, routes: readonly RouteInfo[]): void {
  let document: string | undefined;
  app.get("/openapi.json", { config: { access: "public" } }, (_request, reply) => {
    document ??= JSON.stringify(openApiDocument(routes, packageVersion()));
    return reply.header("content-type", "application/json; charset=utf-8").send(document);
  });
}
