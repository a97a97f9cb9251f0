// The benchmark's peer: the Neo4j GraphQL Library on Apollo Server, over caregraph's graph.
// Configuration comes from the environment (set by bench/peer/__init__.py); it listens on
// 127.0.0.1 only. Nothing here is tuned beyond what the libraries' getting-started guides do.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

const env = process.env;
const typeDefs = readFileSync(new URL("./typedefs.graphql", import.meta.url), "utf8");
const driver = neo4j.driver(
  env.NEO4J_URI,
  neo4j.auth.basic(env.NEO4J_USERNAME ?? "neo4j", env.NEO4J_PASSWORD ?? ""),
  { maxConnectionPoolSize: 64 },
);
const database = env.NEO4J_DATABASE ?? "neo4j";

const neoSchema = new Neo4jGraphQL({ typeDefs, driver });
const server = new ApolloServer({ schema: await neoSchema.getSchema() });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(env.PEER_PORT ?? 4000) },
  context: async () => ({ sessionConfig: { database } }),
});
console.log(`peer ready at ${url}`);

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    await server.stop();
    await driver.close();
    process.exit(0);
  });
}
