package io.a3s.box.ttrpc.wire;

/** The message types and flags of the ttrpc frame header. */
public final class MessageType {
    public static final byte REQUEST = 0x01;
    public static final byte RESPONSE = 0x02;
    /** Streaming data (ttrpc 1.2+); this library serves unary calls only. */
    public static final byte DATA = 0x03;

    /** Request/Data flag: the sender will send no more data on this stream. */
    public static final byte FLAG_REMOTE_CLOSED = 0x01;
    /** Request flag: the sender keeps the stream open (a streaming call). */
    public static final byte FLAG_REMOTE_OPEN = 0x02;
    /** Data flag: the frame carries no data. */
    public static final byte FLAG_NO_DATA = 0x04;

    private MessageType() {
    }

    public static String name(byte type) {
        return switch (type) {
            case REQUEST -> "REQUEST";
            case RESPONSE -> "RESPONSE";
            case DATA -> "DATA";
            default -> "0x" + Integer.toHexString(type & 0xff);
        };
    }
}
