/**
 * Cluster routes: `GET /cluster` (members, leader, term, per-member indexes and lag),
 * `POST /cluster/members` (add a learner, or promote one: `{"id","peer"}` /
 * `{"id","role":"voter"}`), `DELETE /cluster/members/{id}`, and `POST /cluster/leader`
 * (`{"id"}` or an empty body: the most caught-up voter). Requests are validated here; the
 * node forwards changes to the leader. A node outside a cluster answers 404.
 */
import type { ClusterAdmin, MemberRequest } from "../cluster/membership.ts";
import { MembershipError } from "../cluster/membership.ts";
import type { ApiState } from "./context.ts";
import { HttpError, problemResponse, type ProblemSlug } from "./errors.ts";
import { readBodyBounded } from "./limits.ts";
import { utf8OrUndefined } from "./codec.ts";

/** Largest body of a cluster request. */
export const clusterBodyBytesMax = 4096;

/** Path prefix of a member's route. */
export const memberPathPrefix = "/cluster/members/";

const jsonHeaders = { "content-type": "application/json" };
const jsonOrText = /^(application\/json|text\/plain)\s*(;.*)?$/i;
const idPattern = /^[A-Za-z0-9_.-]{1,64}$/;
const idRule = "1-64 characters of A-Z a-z 0-9 _ . -";

/** Where a cluster handler finds the node's membership (absent on a standalone node). */
export interface ClusterContext {
  admin: ClusterAdmin | undefined;
  state: ApiState;
}

/** GET /cluster: the cluster as the leader sees it (`complete: false` when it could not ask). */
export async function handleGetCluster(context: ClusterContext): Promise<Response> {
  const admin = requireCluster(context);
  return await answer(() => admin.view());
}

/**
 * POST /cluster/members: `{"id":"n4","peer":"host:port"}` adds n4 as a learner;
 * `{"id":"n4","role":"voter"}` promotes learner n4 once it has caught up (409 with its lag
 * otherwise); `"role":"learner"` insists on a learner (409 for a voter: no demotion). Asking
 * for what already holds answers 200 with `changed: false`.
 */
export async function handlePostMembers(
  request: Request,
  context: ClusterContext,
): Promise<Response> {
  const admin = requireCluster(context);
  const body = await readJsonObject(request, context.state, { required: true });
  const allowed = new Set(["id", "peer", "role"]);
  for (const name of Object.keys(body)) {
    if (!allowed.has(name)) {
      throw invalid(`unknown member "${name.slice(0, 64)}"; allowed: id, peer, role`);
    }
  }
  const memberRequest: MemberRequest = { id: parseId(body.id, "id") };
  const role = parseRole(body.role);
  if (role !== undefined) memberRequest.role = role;
  if (body.peer !== undefined) memberRequest.peer = parsePeerAddress(body.peer);
  return await answer(() => admin.setMember(memberRequest));
}

/** DELETE /cluster/members/{id}: removes the member (the leader hands over first). */
export async function handleDeleteMember(
  rawPath: string,
  context: ClusterContext,
): Promise<Response> {
  const admin = requireCluster(context);
  let id: string;
  try {
    id = decodeURIComponent(rawPath.slice(memberPathPrefix.length));
  } catch {
    throw invalid("the member id in the path is not valid percent-encoding");
  }
  return await answer(() => admin.removeMember(parseId(id, "the member id in the path")));
}

/** POST /cluster/leader: `{"id":"n2"}` or an empty body (the most caught-up voter). */
export async function handlePostLeader(
  request: Request,
  context: ClusterContext,
): Promise<Response> {
  const admin = requireCluster(context);
  const body = await readJsonObject(request, context.state, { required: false });
  for (const name of Object.keys(body)) {
    if (name !== "id") throw invalid(`unknown member "${name.slice(0, 64)}"; allowed: id`);
  }
  const id = body.id === undefined || body.id === null ? undefined : parseId(body.id, "id");
  return await answer(() => admin.transferLeader(id));
}

function requireCluster(context: ClusterContext): ClusterAdmin {
  if (context.admin === undefined) {
    throw new HttpError(
      "not-found",
      "this node does not run in a cluster; start it with --cluster (or --join) for /cluster",
    );
  }
  return context.admin;
}

/** Runs a membership call and answers its result as JSON, or its refusal as a problem. */
async function answer(call: () => Promise<unknown>): Promise<Response> {
  try {
    return new Response(JSON.stringify(await call()), { status: 200, headers: jsonHeaders });
  } catch (error) {
    if (!(error instanceof MembershipError)) throw error;
    const slugs: Record<MembershipError["code"], ProblemSlug> = {
      invalid: "invalid-body",
      not_found: "not-found",
      conflict: "conflict",
      unavailable: "unavailable",
    };
    const headers: Record<string, string> = error.code === "unavailable"
      ? { "retry-after": "1" }
      : {};
    return problemResponse(slugs[error.code], error.message, { extra: error.extra, headers });
  }
}

async function readJsonObject(
  request: Request,
  state: ApiState,
  options: { required: boolean },
): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type");
  if (type !== null && !jsonOrText.test(type.trim())) {
    throw new HttpError("unsupported-media-type", "send the request as application/json");
  }
  const bytes = await readBodyBounded(request, clusterBodyBytesMax, {
    timeoutMs: state.limits.bodyTimeoutMs,
  });
  const text = utf8OrUndefined(bytes);
  if (text === undefined) throw invalid("the body is not UTF-8 JSON");
  if (text.trim() === "") {
    if (options.required) {
      throw invalid('send a JSON object such as {"id":"n4","peer":"host:port"}');
    }
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid("the body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function invalid(detail: string): HttpError {
  return new HttpError("invalid-body", detail);
}

/** A member id: the same rule as --id. */
export function parseId(value: unknown, what: string): string {
  if (typeof value !== "string" || !idPattern.test(value)) {
    const shown = typeof value === "string" ? `"${value.slice(0, 80)}"` : String(value);
    throw invalid(`${what} must be a node id (${idRule}), got ${shown}`);
  }
  return value;
}

function parseRole(value: unknown): MemberRequest["role"] {
  if (value === undefined || value === null) return undefined;
  if (value === "learner" || value === "voter") return value;
  throw invalid('"role" must be "learner" (add) or "voter" (promote)');
}

/**
 * A peer address host:port as other nodes dial it: a host name, an IPv4 address or a
 * bracketed IPv6 address, and a port in 1..65535 (0 cannot be dialed).
 */
export function parsePeerAddress(value: unknown): string {
  const rule = 'host:port with a port in 1..65535, e.g. "127.0.0.1:7371"';
  if (typeof value !== "string" || value.length > 261) {
    throw invalid(`"peer" must be ${rule}`);
  }
  const colon = value.lastIndexOf(":");
  const host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  const port = Number(portText);
  const hostOk = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host) ||
    /^\[[0-9A-Fa-f:.]{2,45}\]$/.test(host);
  const portOk = /^\d{1,5}$/.test(portText) && port >= 1 && port <= 65535;
  if (colon <= 0 || !hostOk || !portOk) {
    throw invalid(`"peer" must be ${rule}, got "${value.slice(0, 80)}"`);
  }
  return value;
}
