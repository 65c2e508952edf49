/**
 * grpc-js ServiceDefinition built from a protobuf-es service descriptor (CONVENTIONS.md practice
 * 7): path "/<package>.<Service>/<Method>", toBinary/fromBinary as (de)serializers. No second code
 * generator. Requests are attacker-controlled bytes: a request that fails to decode is not thrown
 * here (grpc-js would answer INTERNAL) but handed on as a {@link DecodeFailure}, which the server
 * answers with INVALID_ARGUMENT.
 */
import {
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { captureSent } from "./wire-capture.js";

/** A request message that could not be decoded. */
export class DecodeFailure {
  constructor(
    /** Fully qualified name of the expected message. */
    readonly typeName: string,
    /** The decoder's error (kept for logs, not sent). */
    readonly cause: unknown,
  ) {}

  /** Safe description for the peer: names the message, not the bytes. */
  get message(): string {
    const why = this.cause instanceof Error ? this.cause.message : "invalid wire format";
    return `malformed request: cannot decode ${this.typeName}: ${why.slice(0, 200)}`;
  }
}

/** gRPC path of a method, e.g. "/lineage.v1.Hub/SubmitSketch". */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializer(
  schema: DescMessage,
  kind: "request" | "response",
  path: string,
): (value: unknown) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, value as never);
    captureSent(kind, path, bytes);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function tolerantDeserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return fromBinary(schema, bytes);
    } catch (err) {
      return new DecodeFailure(schema.typeName, err);
    }
  };
}

function strictDeserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => fromBinary(schema, bytes);
}

/** The grpc-js definition of one method; requests decode tolerantly (server view). */
export function methodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  return {
    path: methodPath(method),
    originalName: method.localName,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: serializer(method.input, "request", methodPath(method)),
    requestDeserialize: tolerantDeserializer(method.input),
    responseSerialize: serializer(method.output, "response", methodPath(method)),
    responseDeserialize: strictDeserializer(method.output),
  };
}

/** The grpc-js definition of a service, keyed by the methods' local (camelCase) names. */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) def[method.localName] = methodDefinition(method);
  return def;
}
