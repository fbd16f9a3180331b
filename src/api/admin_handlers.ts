/**
 * Admin routes. `/admin/faults` reads, replaces and clears the node's fault injection (cut,
 * drop or delay peer traffic, slow fsyncs): for tests only, and present only on a node
 * started with --enable-fault-injection.
 */
import { type FaultInjector, FaultSpecError } from "../transport/mod.ts";
import type { ApiState } from "./context.ts";
import { HttpError, problemResponse } from "./errors.ts";
import { readBodyBounded } from "./limits.ts";
import { utf8OrUndefined } from "./codec.ts";

/** Largest fault spec document accepted by PUT /admin/faults. */
export const faultSpecBytesMax = 256 * 1024;

const jsonOrText = /^(application\/json|text\/plain)\s*(;.*)?$/i;

const jsonHeaders = { "content-type": "application/json" };

function disabled(): Response {
  return problemResponse(
    "not-found",
    "fault injection is disabled on this node; start it with --enable-fault-injection " +
      "(or RINGKV_ENABLE_FAULT_INJECTION=true) to use /admin/faults, and only in tests",
  );
}

function specResponse(faults: FaultInjector): Response {
  return new Response(JSON.stringify(faults.spec()), { status: 200, headers: jsonHeaders });
}

/** GET /admin/faults: the fault spec in force; 404 when fault injection is off. */
export function handleGetFaults(faults: FaultInjector | undefined): Response {
  if (faults === undefined || !faults.enabled) return disabled();
  return specResponse(faults);
}

/**
 * PUT /admin/faults: replaces the whole spec with the JSON body and answers the spec now in
 * force. Throws HttpError 400 for a body that is not a valid spec (naming the field), 413
 * past faultSpecBytesMax, 415 for a body that is not JSON; 404 when fault injection is off.
 */
export async function handlePutFaults(
  request: Request,
  context: { faults: FaultInjector | undefined; state: ApiState },
): Promise<Response> {
  const { faults, state } = context;
  if (faults === undefined || !faults.enabled) return disabled();
  const type = request.headers.get("content-type");
  if (type !== null && !jsonOrText.test(type.trim())) {
    throw new HttpError("unsupported-media-type", "send the fault spec as application/json");
  }
  const body = await readBodyBounded(request, faultSpecBytesMax, {
    timeoutMs: state.limits.bodyTimeoutMs,
  });
  const text = utf8OrUndefined(body);
  if (text === undefined) throw new HttpError("invalid-body", "the body is not UTF-8 JSON");
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch {
    throw new HttpError(
      "invalid-body",
      'the body is not valid JSON; send a fault spec like {"cut": ["n2"], "fsyncDelayMs": 50}',
    );
  }
  try {
    faults.configure(spec);
  } catch (error) {
    if (!(error instanceof FaultSpecError)) throw error;
    throw new HttpError("invalid-body", `invalid fault spec: ${error.message}`);
  }
  return specResponse(faults);
}

/** DELETE /admin/faults: removes every fault (heals the node); 404 when fault injection is off. */
export function handleDeleteFaults(faults: FaultInjector | undefined): Response {
  if (faults === undefined || !faults.enabled) return disabled();
  faults.reset();
  return new Response(null, { status: 204 });
}
