package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code hooks}: commands run at points of the container lifecycle ({@code prestart} is deprecated in the spec). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Hooks(
        List<Hook> prestart,
        List<Hook> createRuntime,
        List<Hook> createContainer,
        List<Hook> startContainer,
        List<Hook> poststart,
        List<Hook> poststop,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Hooks {
        prestart = Immutable.list(prestart);
        createRuntime = Immutable.list(createRuntime);
        createContainer = Immutable.list(createContainer);
        startContainer = Immutable.list(startContainer);
        poststart = Immutable.list(poststart);
        poststop = Immutable.list(poststop);
        extra = Immutable.extra(extra);
    }
}
