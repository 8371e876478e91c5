package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** One hook command; {@code timeout} is in seconds. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Hook(
        String path,
        List<String> args,
        List<String> env,
        Long timeout,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Hook {
        args = Immutable.list(args);
        env = Immutable.list(env);
        extra = Immutable.extra(extra);
    }
}
