package io.a3s.box.ttrpc;

/** The uid and gid of the process at the other end of a Unix socket ({@code SO_PEERCRED}). */
public record PeerCredentials(String user, String group) {
}
