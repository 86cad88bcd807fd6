/**
 * A parameter form from a JSON Schema (react-jsonschema-form, validated with ajv), embedded
 * in a larger form. Inputs are named `<prefix>.<field>`, and the API's 422 details for
 * `<prefix>.<field>` appear under the field they name.
 */
import Form from "@rjsf/core";
import { dotNotationNameGenerator, type ErrorSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useImperativeHandle, useMemo, useRef, type Ref } from "react";
import { describe } from "../ui/errors";
import type { JsonSchema } from "../types";
import { paramsPayload, prepareParams } from "./schema";

type Values = Record<string, unknown>;

export interface ParamsFormHandle {
  /** Validate and show the errors; the values to send, or null when some are invalid. */
  values(): Values | null;
}

export function ParamsForm({
  schema,
  prefix,
  defaults,
  initial,
  serverError,
  ref,
}: {
  schema: JsonSchema | undefined;
  prefix: string;
  defaults?: Values | undefined;
  /** Values to start from instead of the defaults (e.g. a backtest's parameters). */
  initial?: Values | undefined;
  /** The API's answer to the last submit; its details for this prefix mark the fields. */
  serverError?: unknown;
  ref: Ref<ParamsFormHandle>;
}) {
  const prepared = useMemo(() => prepareParams(schema, defaults), [schema, defaults]);
  const form = useRef<Form<Values>>(null);
  useImperativeHandle(
    ref,
    () => ({
      values: () =>
        form.current && !form.current.validateForm()
          ? null
          : paramsPayload(form.current?.state.formData, prepared.decimals),
    }),
    [prepared],
  );
  const extraErrors = useMemo(() => detailsFor(serverError, prefix), [serverError, prefix]);
  // Decimal parameters are edited as numbers (prepareParams); values arrive as strings.
  const formData = useMemo(
    () =>
      initial &&
      Object.fromEntries(
        Object.entries(initial).map(([k, v]) => [
          k,
          prepared.decimals.includes(k) && typeof v === "string" ? Number(v) : v,
        ]),
      ),
    [initial, prepared],
  );

  if (!Object.keys(prepared.schema.properties ?? {}).length)
    return <p className="muted small">No parameters.</p>;
  return (
    <Form<Values>
      ref={form}
      tagName="div"
      className="schema-form"
      schema={prepared.schema}
      uiSchema={prepared.uiSchema}
      validator={validator}
      formData={formData}
      idPrefix={prefix}
      nameGenerator={dotNotationNameGenerator}
      showErrorList={false}
      onError={() => undefined /* shown under the fields */}
      extraErrors={extraErrors}
    />
  );
}

function detailsFor(error: unknown, prefix: string): ErrorSchema<Values> | undefined {
  const out: Record<string, { __errors: string[] }> = {};
  for (const detail of describe(error).details) {
    const [head, name] = (detail.field ?? "").split(".");
    if (head !== prefix || !name) continue;
    (out[name] ??= { __errors: [] }).__errors.push(detail.message);
  }
  return Object.keys(out).length ? (out as ErrorSchema<Values>) : undefined;
}
