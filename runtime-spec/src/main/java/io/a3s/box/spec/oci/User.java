package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code process.user}. {@code username} is Windows-only. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record User(
        Long uid,
        Long gid,
        Long umask,
        List<Long> additionalGids,
        String username,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public User {
        additionalGids = Immutable.list(additionalGids);
        extra = Immutable.extra(extra);
    }
}
