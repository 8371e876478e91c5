package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code process.capabilities}: the five capability sets, as {@code CAP_*} names. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Capabilities(
        List<String> bounding,
        List<String> effective,
        List<String> inheritable,
        List<String> permitted,
        List<String> ambient,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Capabilities {
        bounding = Immutable.list(bounding);
        effective = Immutable.list(effective);
        inheritable = Immutable.list(inheritable);
        permitted = Immutable.list(permitted);
        ambient = Immutable.list(ambient);
        extra = Immutable.extra(extra);
    }
}
