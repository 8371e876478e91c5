/**
 * The short-lived invocations of the shim binary, as containerd runs them: {@code start} (find or spawn the
 * shim daemon of this containerd, print its address), {@code delete} (clean up after a task, print a
 * DeleteResponse), {@code -v}; and the hidden {@code serve} that {@code start} spawns. The launcher script
 * answers {@code start} and {@code delete} itself when it can (docs/shim-bootstrap.md); this package is the
 * complete implementation it falls back to.
 */
package io.a3s.box.shim.bootstrap;
