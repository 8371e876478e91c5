package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** One rule of {@code linux.seccomp.syscalls}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Syscall(
        List<String> names,
        String action,
        Long errnoRet,
        List<SeccompArg> args,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Syscall {
        names = Immutable.list(names);
        args = Immutable.list(args);
        extra = Immutable.extra(extra);
    }
}
