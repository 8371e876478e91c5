package io.a3s.box.spec.guest;

import java.util.List;

/** The five capability sets of the process, as {@code CAP_*} names the guest kernel knows. */
public record GuestCapabilities(
        List<String> bounding,
        List<String> effective,
        List<String> inheritable,
        List<String> permitted,
        List<String> ambient) {
    public GuestCapabilities {
        bounding = List.copyOf(bounding);
        effective = List.copyOf(effective);
        inheritable = List.copyOf(inheritable);
        permitted = List.copyOf(permitted);
        ambient = List.copyOf(ambient);
    }
}
