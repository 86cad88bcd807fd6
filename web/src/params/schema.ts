/**
 * Parameter schemas as pydantic writes them, prepared for react-jsonschema-form:
 * `$ref`, single `allOf` and optional (`anyOf: [X, null]`) wrappers are unwrapped; a Decimal
 * ("a number or a numeric string") is edited as a number and sent as a string; a field
 * without a `title` gets one from its name; bounds and the default become the help line.
 */
import type { RJSFSchema, UiSchema } from "@rjsf/utils";
import type { JsonSchema } from "../types";

export interface ParamsSchema {
  schema: RJSFSchema;
  uiSchema: UiSchema;
  /** Fields edited as numbers but sent as decimal strings. */
  decimals: string[];
}

export function prepareParams(
  source: JsonSchema | undefined,
  defaults: Record<string, unknown> = {},
): ParamsSchema {
  const properties: Record<string, JsonSchema> = {};
  const uiSchema: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const decimals: string[] = [];
  for (const [name, raw] of Object.entries(source?.properties ?? {})) {
    const prop = resolve(raw, source);
    const decimal = decimalNumber(prop);
    const fallback = prop.default ?? raw.default ?? defaults[name];
    const field: JsonSchema = {
      ...withoutKeys(prop, ["anyOf", "oneOf", "allOf", "$ref", "default"]),
      ...(decimal ?? enumOf(prop)),
      title: prop.title ?? raw.title ?? humanize(name),
    };
    const description = raw.description ?? prop.description;
    if (description) field.description = description;
    if (fallback !== undefined) field.default = decimal ? Number(fallback) : fallback;
    if (decimal) decimals.push(name);
    properties[name] = field;
    const help = helpFor(field);
    if (help) uiSchema[name] = { "ui:help": help };
  }
  const schema: JsonSchema = { type: "object", properties };
  if (source?.required?.length) schema.required = source.required;
  if (source?.$defs) schema.$defs = source.$defs;
  if (source?.definitions) schema.definitions = source.definitions;
  return { schema: schema as RJSFSchema, uiSchema, decimals };
}

/** The values to send: empty fields left out (the server applies the default), decimals as text. */
export function paramsPayload(
  values: Record<string, unknown> | undefined,
  decimals: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    out[name] = decimals.includes(name) && typeof value === "number" ? String(value) : value;
  }
  return out;
}

function resolve(schema: JsonSchema, root: JsonSchema | undefined, depth = 0): JsonSchema {
  if (depth > 8) return schema;
  if (schema.$ref) {
    const target = lookup(schema.$ref, root);
    return target
      ? { ...resolve(target, root, depth + 1), ...withoutKeys(schema, ["$ref"]) }
      : schema;
  }
  if (schema.allOf?.length === 1)
    return { ...resolve(schema.allOf[0]!, root, depth + 1), ...withoutKeys(schema, ["allOf"]) };
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const real = variants.filter((v) => v.type !== "null");
    if (real.length === 1)
      return { ...resolve(real[0]!, root, depth + 1), ...withoutKeys(schema, ["anyOf", "oneOf"]) };
  }
  return schema;
}

/** A Decimal is "a number (with the bounds) or a numeric string": its number variant. */
function decimalNumber(schema: JsonSchema): JsonSchema | undefined {
  const real = (schema.anyOf ?? schema.oneOf ?? []).filter((v) => v.type !== "null");
  const number = real.find((v) => v.type === "number");
  return real.length === 2 && number && real.some((v) => v.type === "string") ? number : undefined;
}

/** A choice written as `anyOf`/`oneOf` of consts becomes an `enum` (a drop-down). */
function enumOf(schema: JsonSchema): JsonSchema {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants?.length && variants.every((v) => "const" in v))
    return { enum: variants.map((v) => v.const) };
  return {};
}

function lookup(ref: string, root: JsonSchema | undefined): JsonSchema | undefined {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!match || !root) return undefined;
  const defs = match[1] === "$defs" ? root.$defs : root.definitions;
  return defs?.[decodeURIComponent(match[2]!)];
}

function withoutKeys(schema: JsonSchema, drop: (keyof JsonSchema)[]): JsonSchema {
  const copy = { ...schema };
  for (const key of drop) delete copy[key];
  return copy;
}

function helpFor(field: JsonSchema): string {
  const parts: string[] = [];
  const low = field.minimum ?? field.exclusiveMinimum;
  const high = field.maximum ?? field.exclusiveMaximum;
  if (low !== undefined || high !== undefined) {
    const from =
      low === undefined ? "" : `${field.exclusiveMinimum !== undefined ? ">" : ">="} ${low}`;
    const to =
      high === undefined ? "" : `${field.exclusiveMaximum !== undefined ? "<" : "<="} ${high}`;
    parts.push([from, to].filter(Boolean).join(", "));
  }
  if (field.default !== undefined) parts.push(`default ${JSON.stringify(field.default)}`);
  return parts.join(" · ");
}

function humanize(name: string): string {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
