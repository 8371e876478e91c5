package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** The container process ({@code process}), and also the whole body of an exec's {@code ExecProcessRequest.spec}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Process(
        Boolean terminal,
        ConsoleSize consoleSize,
        User user,
        List<String> args,
        String commandLine,
        List<String> env,
        String cwd,
        Capabilities capabilities,
        List<Rlimit> rlimits,
        Boolean noNewPrivileges,
        String apparmorProfile,
        Long oomScoreAdj,
        Scheduler scheduler,
        String selinuxLabel,
        IoPriority ioPriority,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Process {
        args = Immutable.list(args);
        env = Immutable.list(env);
        rlimits = Immutable.list(rlimits);
        extra = Immutable.extra(extra);
    }
}
