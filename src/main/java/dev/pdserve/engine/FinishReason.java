package dev.pdserve.engine;

/** Why a sequence ended, spelled as the OpenAI API spells it. */
public enum FinishReason {
    STOP("stop"), LENGTH("length"), ABORT("abort"), ERROR("error");

    public final String apiName;

    FinishReason(String apiName) { this.apiName = apiName; }
}
