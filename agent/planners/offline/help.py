"""What the offline planner says when asked for help, or when it does not understand."""

HELP = """Here is what I can do (offline planner — plain requests, no AI needed):
- **Customers**: "add a new customer, Dana Reyes, 555-201-7788, dana@example.com, 14 Oak St" · "find Dana" ·
  "who are our newest customers?" · "how long since we talked to Dana?"
- **Inquiries and leads**: "new inquiry from Sam Lee, 555-301-2222, water heater leaking" ·
  "open a lead for Dana: kitchen remodel, about $8k" · "qualify the Oak St lead" ·
  "disqualify the Main St lead, budget" · "convert Dana to a job"
- **Calls and follow-ups**: "log a call with Dana — she wants a quote, call back Friday" ·
  "what follow-ups are due?" · "which leads have gone quiet?" · "follow up on the Oak St lead"
- **Reports**: "what's our pipeline?" · "morning digest" · "win/loss for October" · "how did we do last month?"
- **Jobs**: "mark the Reyes job won" · "we lost the Reyes job, price"
- **Approvals**: "what's waiting for my approval?"
- **Tidying the book**: "are there any duplicates?" · "merge Dana Reyes and D. Reyes" (I show what moves and ask first)
Type cancel to drop a question I asked, quit to leave."""
