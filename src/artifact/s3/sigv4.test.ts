import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_SHA256, presignGet, signHeaders } from "./sigv4.js";

// The worked examples of the Amazon S3 API reference, "Signature Calculations for the
// Authorization Header" (GET Object with a range) and "Authenticating Requests: Using Query
// Parameters" (presigned GET), both with these example credentials.
const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const at = new Date("2013-05-24T00:00:00Z");

test("signs a request with headers as AWS's own example does", () => {
  const headers = signHeaders({
    method: "GET",
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    query: {},
    headers: { range: "bytes=0-9" },
    payloadHash: EMPTY_SHA256,
    region: "us-east-1",
    credentials,
    at,
  });
  assert.equal(
    headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

test("presigns a GET as AWS's own example does", () => {
  const url = presignGet({
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    region: "us-east-1",
    credentials,
    at,
    expiresSeconds: 86_400,
  });
  assert.match(
    url,
    /&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404$/,
  );
  assert.match(
    url,
    /X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request/,
  );
});
