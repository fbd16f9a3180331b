/** POST /batch: a JSON list of put/delete ops applied all or nothing. */
import type { Bytes, KvBatchOp, KvCondition } from "../cluster/mod.ts";
import type { ApiState } from "./context.ts";
import { HttpError } from "./errors.ts";
import { readBodyBounded } from "./limits.ts";
import { fromBase64, utf8, utf8OrUndefined } from "./codec.ts";

/** Content types a batch may come as: JSON, or text/plain (what fetch sets for a string). */
const jsonOrText = /^(application\/json|text\/plain)\s*(;.*)?$/i;

const opMembers = new Set(["op", "key", "value", "encoding", "if_match", "if_none_match"]);

function bad(index: number, detail: string): HttpError {
  return new HttpError("invalid-body", `ops[${index}]: ${detail}`, { extra: { op_index: index } });
}

function decodeField(
  value: unknown,
  field: { index: number; name: string; encoding: "text" | "base64" },
): Bytes {
  const { index, name, encoding } = field;
  if (typeof value !== "string") throw bad(index, `"${name}" must be a string`);
  if (encoding === "text") return utf8(value);
  const bytes = fromBase64(value);
  if (bytes === undefined) throw bad(index, `"${name}" is not valid base64`);
  return bytes;
}

function condition(index: number, op: Record<string, unknown>): KvCondition | undefined {
  const ifMatch = op.if_match;
  const ifNoneMatch = op.if_none_match;
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw bad(index, "give if_match or if_none_match, not both");
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== "*") throw bad(index, 'if_none_match accepts only "*"');
    if (op.op === "delete") throw bad(index, "if_none_match is not meaningful on delete");
    return { absent: true };
  }
  if (ifMatch === undefined) return undefined;
  // Accepted: the ETag form "\"42\"", the bare "42" and the number 42.
  const text = typeof ifMatch === "number" ? String(ifMatch) : ifMatch;
  const match = typeof text === "string" ? /^"?(\d{1,16})"?$/.exec(text) : null;
  const version = match === null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(version)) throw bad(index, 'if_match must be a version like "42"');
  return { version };
}

function parseOp(raw: unknown, at: { index: number; state: ApiState }): KvBatchOp {
  const { index, state } = at;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw bad(index, "must be an object");
  }
  const op = raw as Record<string, unknown>;
  for (const member of Object.keys(op)) {
    if (!opMembers.has(member)) throw bad(index, `unknown member "${member}"`);
  }
  const encoding = op.encoding ?? "text";
  if (encoding !== "text" && encoding !== "base64") {
    throw bad(index, 'encoding must be "text" or "base64"');
  }
  const key = decodeField(op.key, { index, name: "key", encoding });
  const { keyBytesMax, valueBytesMax } = state.limits;
  if (key.byteLength === 0) throw bad(index, "the key is empty");
  if (key.byteLength > keyBytesMax) throw bad(index, `keys are at most ${keyBytesMax} bytes`);
  const cond = condition(index, op);
  if (op.op === "delete") {
    if (op.value !== undefined) throw bad(index, "a delete has no value");
    return { type: "delete", key, condition: cond };
  }
  if (op.op !== "put") throw bad(index, 'op must be "put" or "delete"');
  const value = decodeField(op.value, { index, name: "value", encoding });
  if (value.byteLength > valueBytesMax) {
    throw new HttpError(
      "payload-too-large",
      `ops[${index}]: values are at most ${valueBytesMax} bytes`,
      {
        extra: { op_index: index, limit_bytes: valueBytesMax },
      },
    );
  }
  return { type: "put", key, value, condition: cond };
}

/** Parses and validates a batch document into service ops; throws HttpError 400/413/415. */
export async function parseBatch(request: Request, state: ApiState): Promise<KvBatchOp[]> {
  const type = request.headers.get("content-type");
  if (type !== null && !jsonOrText.test(type.trim())) {
    throw new HttpError("unsupported-media-type", "send the batch as application/json");
  }
  const body = await readBodyBounded(request, state.limits.bodyBytesMax, {
    timeoutMs: state.limits.bodyTimeoutMs,
  });
  const text = utf8OrUndefined(body);
  if (text === undefined) throw new HttpError("invalid-body", "the body is not UTF-8 JSON");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new HttpError("invalid-body", 'the body is not valid JSON; send {"ops": [...]}');
  }
  const ops = typeof doc === "object" && doc !== null ? (doc as { ops?: unknown }).ops : undefined;
  if (!Array.isArray(ops)) throw new HttpError("invalid-body", 'send {"ops": [...]}');
  if (ops.length === 0) throw new HttpError("invalid-body", '"ops" is empty');
  const { batchOpsMax } = state.limits;
  if (ops.length > batchOpsMax) {
    throw new HttpError("payload-too-large", `a batch has at most ${batchOpsMax} ops`, {
      extra: { limit_ops: batchOpsMax },
    });
  }
  return ops.map((op, index) => parseOp(op, { index, state }));
}

/** POST /batch: 200 {"version": n}; 412 with op_index when a condition fails. */
export async function handleBatch(request: Request, state: ApiState): Promise<Response> {
  const ops = await parseBatch(request, state);
  const result = await state.service.batch(ops);
  return new Response(JSON.stringify({ version: result.version }), {
    status: 200,
    headers: { "content-type": "application/json", "etag": `"${result.version}"` },
  });
}
