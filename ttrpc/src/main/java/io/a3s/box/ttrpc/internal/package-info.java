/** Internal to ttrpc-java: not part of its API, may change without notice. */
package io.a3s.box.ttrpc.internal;
