/** Entry point: the React root, with the query cache and the REST client of this tab. */
import "./style.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { API_BASE, Api } from "./api";
import { App } from "./App";
import { Session } from "./session";
import { FeedbackProvider } from "./ui/feedback";

const session = new Session(API_BASE);
const api = new Api(session);
const restored = session.restore();
// Reads are not retried (the API's answer is shown as it is) and the live feed, not window
// focus, keeps them current.
const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: false, refetchOnWindowFocus: false },
    mutations: { retry: false },
  },
});

createRoot(document.getElementById("app") as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <FeedbackProvider>
        <App api={api} session={session} restored={restored} />
      </FeedbackProvider>
    </QueryClientProvider>
  </StrictMode>,
);
