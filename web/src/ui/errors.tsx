/** How API errors are shown: next to the form that caused them, fields outlined. */
import { ApiError, type FieldError } from "../api";

export function describe(error: unknown): { message: string; details: FieldError[] } {
  if (error instanceof ApiError) return { message: error.message, details: error.details };
  if (error instanceof Error) return { message: error.message, details: [] };
  return { message: String(error), details: [] };
}

/** The route itself is not deployed (yet): the panel says so instead of failing. */
export function routeMissing(error: unknown): boolean {
  return error instanceof ApiError && error.routeMissing;
}

/**
 * The headline above the details list. The API's message of a 422 repeats its details
 * ("invalid subscription: symbols.0: unknown instrument 'X'"); then only its lead-in is the
 * headline, so each problem is shown once.
 */
export function headline(message: string, details: FieldError[]): string {
  if (!details.length) return message;
  const lead = message.indexOf(": ");
  const repeats = details.some((d) => message.includes(d.message));
  if (!repeats || lead <= 0) return message;
  // A message that is only "field: problem" has no lead-in of its own.
  const leadIn = message.slice(0, lead);
  return details.some((d) => d.field === leadIn) ? "Please correct this:" : leadIn;
}

/** The API's message, and for a 422 its details as `field: message`. Nothing without an error. */
export function ErrorBox({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const { message, details } = describe(error);
  return (
    <div className="error" role="alert">
      <p>{headline(message, details)}</p>
      {details.length ? (
        <ul>
          {details.map((detail, i) => (
            <li key={i}>
              {detail.field ? (
                <>
                  <code>{detail.field}</code>:{" "}
                </>
              ) : null}
              {detail.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** Props that outline a control the API's 422 details name (the control keeps the API's name). */
export function invalid(
  error: unknown,
  name: string,
): { className?: string; "aria-invalid"?: true; title?: string } {
  // `symbols.0` names an item of the `symbols` control.
  const detail = describe(error).details.find(
    (d) => d.field === name || d.field?.startsWith(`${name}.`),
  );
  return detail ? { className: "invalid", "aria-invalid": true, title: detail.message } : {};
}

/** A notice shown in a panel whose API route is not deployed yet. */
export function NotAvailable({ what }: { what: string }) {
  return <p className="muted notice">{what}: not available yet.</p>;
}
