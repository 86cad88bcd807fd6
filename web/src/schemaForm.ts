/**
 * A form built from a JSON Schema of parameters (as pydantic writes it): number, integer,
 * boolean, enum and string fields with their bounds and defaults. Other types take JSON.
 * Inputs are named `<prefix>.<field>` so a 422 detail such as `params.fast` marks them.
 */
import { field, h } from "./dom";
import type { JsonSchema } from "./types";

export interface SchemaForm {
  el: HTMLElement;
  /** The entered values; empty fields are left out so the server applies the default. */
  values(): Record<string, unknown>;
}

type Reader = () => [boolean, unknown];

export function schemaForm(
  schema: JsonSchema | undefined,
  prefix: string,
  defaults: Record<string, unknown> = {},
): SchemaForm {
  const el = h("div", { class: "schema-form" });
  const readers = new Map<string, Reader>();
  const properties = schema?.properties ?? {};
  for (const [name, raw] of Object.entries(properties)) {
    const prop = resolve(raw, schema);
    const initial = prop.default ?? raw.default ?? defaults[name];
    const [control, reader] = controlFor(`${prefix}.${name}`, prop, initial);
    readers.set(name, reader);
    el.appendChild(field(prop.title ?? raw.title ?? humanize(name), control, hintFor(prop, raw)));
  }
  if (!readers.size) el.appendChild(h("p", { class: "muted small" }, "No parameters."));
  return {
    el,
    values: () => {
      const out: Record<string, unknown> = {};
      for (const [name, read] of readers) {
        const [present, value] = read();
        if (present) out[name] = value;
      }
      return out;
    },
  };
}

function controlFor(name: string, prop: JsonSchema, initial: unknown): [HTMLElement, Reader] {
  const options = enumOptions(prop);
  if (options) {
    const control = h(
      "select",
      { name },
      h("option", { value: "" }, "(default)"),
      ...options.map((option, i) =>
        h("option", { value: String(i), selected: option === initial }, String(option)),
      ),
    );
    return [
      control,
      () => (control.value === "" ? [false, undefined] : [true, options[Number(control.value)]]),
    ];
  }
  const type = primaryType(prop);
  if (type === "boolean") {
    const control = h("input", { type: "checkbox", name, checked: initial === true });
    return [control, () => [true, control.checked]];
  }
  if (type === "integer" || type === "number") {
    const decimal = prop.format === "decimal";
    const start =
      typeof initial === "number" ||
      (typeof initial === "string" && initial !== "" && Number.isFinite(Number(initial)));
    const control = h("input", {
      type: "number",
      name,
      step: type === "integer" ? String(prop.multipleOf ?? 1) : "any",
      min: prop.minimum ?? prop.exclusiveMinimum,
      max: prop.maximum ?? prop.exclusiveMaximum,
      value: start ? String(initial) : "",
    });
    return [
      control,
      () =>
        control.value === ""
          ? [false, undefined]
          : [true, decimal ? control.value : Number(control.value)],
    ];
  }
  if (type === "string") {
    const control = h("input", { name, value: typeof initial === "string" ? initial : "" });
    return [control, () => (control.value === "" ? [false, undefined] : [true, control.value])];
  }
  const control = h("input", {
    name,
    value: initial === undefined ? "" : JSON.stringify(initial),
    placeholder: "JSON",
  });
  return [
    control,
    () => {
      if (control.value === "") return [false, undefined];
      try {
        return [true, JSON.parse(control.value)];
      } catch {
        return [true, control.value]; // the server says what is wrong with it
      }
    },
  ];
}

/** Follow `$ref`, `allOf: [{$ref}]` and `anyOf: [X, null]` (an optional X) to the real schema. */
function resolve(schema: JsonSchema, root: JsonSchema | undefined, depth = 0): JsonSchema {
  if (depth > 8) return schema;
  if (schema.$ref) {
    const target = lookup(schema.$ref, root);
    return target ? { ...resolve(target, root, depth + 1), ...withoutRef(schema) } : schema;
  }
  if (schema.allOf?.length === 1)
    return { ...resolve(schema.allOf[0]!, root, depth + 1), ...withoutKey(schema, "allOf") };
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const rest = withoutKey(withoutKey(schema, "anyOf"), "oneOf");
    const real = variants.filter((v) => v.type !== "null");
    if (real.length === 1) return { ...resolve(real[0]!, root, depth + 1), ...rest };
    // A Decimal is written as "a number or a numeric string": edit it as a number, send a string.
    const number = real.find((v) => v.type === "number");
    if (number && real.every((v) => v === number || v.type === "string")) {
      return { ...number, ...rest, format: "decimal" };
    }
  }
  return schema;
}

function lookup(ref: string, root: JsonSchema | undefined): JsonSchema | undefined {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!match || !root) return undefined;
  const defs = match[1] === "$defs" ? root.$defs : root.definitions;
  return defs?.[decodeURIComponent(match[2]!)];
}

function withoutRef(schema: JsonSchema): JsonSchema {
  return withoutKey(schema, "$ref");
}

function withoutKey(schema: JsonSchema, key: keyof JsonSchema): JsonSchema {
  const copy = { ...schema };
  delete copy[key];
  return copy;
}

function enumOptions(prop: JsonSchema): unknown[] | null {
  if (prop.enum?.length) return prop.enum;
  const variants = prop.anyOf ?? prop.oneOf;
  if (variants?.length && variants.every((v) => "const" in v)) return variants.map((v) => v.const);
  return null;
}

function primaryType(prop: JsonSchema): string | undefined {
  if (Array.isArray(prop.type)) return prop.type.find((t) => t !== "null");
  return prop.type;
}

function hintFor(prop: JsonSchema, raw: JsonSchema): string | undefined {
  const parts: string[] = [];
  const description = raw.description ?? prop.description;
  if (description) parts.push(description);
  const low = prop.minimum ?? prop.exclusiveMinimum;
  const high = prop.maximum ?? prop.exclusiveMaximum;
  if (low !== undefined || high !== undefined) {
    const from =
      low === undefined ? "" : `${prop.exclusiveMinimum !== undefined ? ">" : ">="} ${low}`;
    const to =
      high === undefined ? "" : `${prop.exclusiveMaximum !== undefined ? "<" : "<="} ${high}`;
    parts.push([from, to].filter(Boolean).join(", "));
  }
  const fallback = prop.default ?? raw.default;
  if (fallback !== undefined) parts.push(`default ${JSON.stringify(fallback)}`);
  return parts.length ? parts.join(" · ") : undefined;
}

function humanize(name: string): string {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
